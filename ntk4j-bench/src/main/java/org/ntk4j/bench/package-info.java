/**
 * Benchmark programs ({@code ./ntk4j bench NAME}): the methods against each other and against peers, tiled runs, and
 * the settings of the papers' figures.
 */
package org.ntk4j.bench;
