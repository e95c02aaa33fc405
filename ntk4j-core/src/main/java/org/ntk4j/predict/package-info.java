/**
 * Predictions with a kernel: kernel regression and linearised gradient descent (MSE in closed form, other losses by
 * ODE), GP inference, and kernel spectra.
 */
package org.ntk4j.predict;
