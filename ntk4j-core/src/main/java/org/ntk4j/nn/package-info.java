/**
 * Networks: layers in the manner of neural-tangents' stax ({@link org.ntk4j.nn.Layers}), models and their parameters,
 * the model zoo ({@link org.ntk4j.nn.Zoo}), linearised models and gradient steps.
 */
package org.ntk4j.nn;
