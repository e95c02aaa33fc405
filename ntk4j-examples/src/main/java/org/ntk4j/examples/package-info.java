/**
 * Small, commented programs using the Java API, one per section of docs/examples.md; each takes optional arguments,
 * read by {@code ExampleArgs} (a bad one ends in one line on stderr and exit code 2).
 */
package org.ntk4j.examples;
