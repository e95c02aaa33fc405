/**
 * Small, commented programs using the Java API, one per section of docs/examples.md; each takes optional size arguments.
 */
package org.ntk4j.examples;
