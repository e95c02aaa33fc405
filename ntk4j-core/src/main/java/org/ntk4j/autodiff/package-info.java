/**
 * Forward and reverse mode (JVP, VJP on stacked tangents) as graph transformations, and DerivativeCheck for testing
 * derivative rules.
 */
package org.ntk4j.autodiff;
