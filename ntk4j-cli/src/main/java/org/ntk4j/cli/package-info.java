/**
 * The {@code ntk4j} command line (picocli): kernel, explain, approx, predict, train, spectrum, models, convergence and
 * study, and their argument-error messages. Each command parses its options into the request of a library
 * function (core or ntk4j-io), calls it and prints its result; {@code Reports} writes every {@code --report}.
 */
package org.ntk4j.cli;
