/**
 * The infinite-width NNGP and NTK of fully connected and convolutional networks in closed form, and the convergence
 * of empirical kernels to them.
 */
package org.ntk4j.infinite;
