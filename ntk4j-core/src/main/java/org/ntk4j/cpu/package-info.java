/**
 * The CPU kernels the evaluator runs: elementwise maps, GEMMs through OpenBLAS, layout operations, convolutions.
 */
package org.ntk4j.cpu;
