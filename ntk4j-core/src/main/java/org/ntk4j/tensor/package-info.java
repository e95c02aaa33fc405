/**
 * Dense native tensors (float32 and float64, off-heap through JavaCPP), their dtypes and shape helpers.
 */
package org.ntk4j.tensor;
