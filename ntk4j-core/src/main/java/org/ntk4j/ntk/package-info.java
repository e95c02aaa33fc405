/**
 * Empirical neural tangent kernels: {@link org.ntk4j.ntk.EmpiricalNtk} with its three exact methods and the cost model
 * that chooses between them, the kernel kinds, and tiled computation ({@link org.ntk4j.ntk.TilePlanner},
 * {@link org.ntk4j.ntk.TiledKernel}).
 */
package org.ntk4j.ntk;
