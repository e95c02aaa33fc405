/**
 * The infinite-width NTK and NNGP of fully connected networks in closed form, and the convergence of empirical kernels to them.
 */
package org.ntk4j.infinite;
