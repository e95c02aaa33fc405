/**
 * The primitive operations of the traced graph, each one class with its shape rule, CPU evaluation, JVP, VJP and (for
 * linear moves of elements) its {@link org.ntk4j.primitive.LinearStructure}.
 */
package org.ntk4j.primitive;
