/**
 * The {@code ntk4j} command line (picocli): kernel, explain, approx, predict, spectrum, models and convergence, and their argument-error messages.
 */
package org.ntk4j.cli;
