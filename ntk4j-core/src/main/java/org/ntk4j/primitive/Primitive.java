package org.ntk4j.primitive;

import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Tensor;

/**
 * A primitive operation of the traced graph. Each implementation keeps all of its rules in its one class:
 * <ul>
 *   <li>{@link #outputType}: the static shape/dtype rule, which also validates operands and fails with an
 *       {@link IllegalArgumentException} naming the primitive, the expected and the actual shapes;</li>
 *   <li>{@link #evaluate}: the CPU kernel;</li>
 *   <li>{@link #jvp}: forward mode on <em>stacked</em> tangents (a leading axis of K vectors);</li>
 *   <li>{@link #vjp}: reverse mode on stacked cotangents;</li>
 *   <li>{@link #linearStructure}: for primitives linear in an operand that move elements without mixing them
 *       (layout operations, neg, scaling, add/sub), the structure of ∂out/∂operand, which structured
 *       derivatives composes along a parameter's path to its consumer;</li>
 *   <li>{@link #consumerRule}: where a parameter-only operand meets the examples, the structure of the
 *       per-example Jacobian that structured derivatives contract (see {@link ConsumerRule}).</li>
 * </ul>
 * The derivative rules emit graph operations (on the {@link Var}s they are given), so they run as one
 * batched computation over the K vectors: GEMMs, not K passes. Implementations are immutable; their
 * parameters are fields.
 */
public interface Primitive {
    /**
     * The name printed in graphs, e.g. {@code dot_general}.
     *
     * @return the name, never null
     */
    String name();

    /**
     * Parameters as printed inside brackets in graphs.
     *
     * @return the parameter text, empty (not null) when there are none
     */
    default String params() {
        return "";
    }

    /**
     * Checks the operand types and returns the result type.
     *
     * @param inputs the operand types, in operand order
     * @return the type of the result
     * @throws IllegalArgumentException if the number, shapes or dtypes of the operands do not fit this primitive
     */
    TensorType outputType(TensorType... inputs);

    /**
     * Floating-point operations of one evaluation (a multiply-add counts 2), for the cost model. The default,
     * one per output element, fits elementwise operations; data movement counts 0.
     *
     * @param inputs the operand types, as accepted by {@link #outputType}
     * @param output the result type {@link #outputType} returned for them
     * @return the floating-point operation count, 0 or more
     */
    default double flops(TensorType[] inputs, TensorType output) {
        return output.size();
    }

    /**
     * Bytes of scratch the CPU kernel allocates for one evaluation besides its output (0 by default).
     *
     * @param inputs the operand types, as accepted by {@link #outputType}
     * @param output the result type {@link #outputType} returned for them
     * @return the scratch size in bytes, 0 or more
     */
    default long workspaceBytes(TensorType[] inputs, TensorType output) {
        return 0;
    }

    /**
     * The structure of ∂out/∂inputs[operand], when this primitive is linear in that operand with the others held
     * fixed and every result element is a scaled copy of one operand element, a sum of some, or 0 (see
     * {@link LinearStructure}); null otherwise (the default), which sends a parameter reaching its consumer
     * through this primitive to structured derivatives' dense fallback. {@code constants[i]} is operand i's
     * value when it is a graph constant, null otherwise.
     *
     * @param inputs the operand types, as accepted by {@link #outputType}
     * @param output the result type {@link #outputType} returned for them
     * @param operand the index of the operand the derivative is taken with respect to
     * @param constants per operand, its value when it is a graph constant, else null; read, not closed
     * @return the structure, or null when this primitive has none for that operand
     */
    default LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return null;
    }

    /**
     * The structure of the per-example Jacobian ∂y_n/∂inputs[operand] when this equation consumes a parameter-only
     * value in that operand and its other operand carries the examples on axis 0 (see {@link ConsumerRule});
     * null (the default) when this primitive declares none for these types, which sends the parameter to
     * structured derivatives' dense fallback (per-example rows from {@link #vjp}). {@code constants[i]} is
     * operand i's value when it is a graph constant, null otherwise.
     *
     * @param inputs the operand types, as accepted by {@link #outputType}
     * @param output the result type {@link #outputType} returned for them
     * @param operand the index of the parameter-only operand
     * @param constants per operand, its value when it is a graph constant, else null; read, not closed
     * @return the rule, or null when this primitive has none for that operand
     */
    default ConsumerRule consumerRule(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return null;
    }

    /**
     * Computes the result on the CPU. Inputs have exactly the types {@link #outputType} accepted.
     *
     * @param inputs the operand values; read, not closed, and owned by the caller
     * @return a new tensor of the result type, which the caller closes
     */
    Tensor evaluate(Tensor... inputs);

    /**
     * Whether the result is operand 0's elements in the same row-major order under another shape: an evaluator
     * that owns operand 0 and reads it here for the last time hands its storage to the result
     * ({@link Tensor#reshapeMove}) instead of calling {@link #evaluate}, which copies; the memory model
     * ({@code GraphCost.peakBytes}) counts such a step as moving, not adding, bytes. False by default.
     *
     * @return true when the result may take over operand 0's storage
     */
    default boolean resultIsOperandReshaped() {
        return false;
    }

    /**
     * Forward-mode rule. {@code tangents[i]} is null (a zero tangent) or has type {@code [k] + inputs[i]};
     * at least one is non-null. Returns the stacked output tangent {@code [k] + out}, or null when it is zero.
     *
     * @param primals the operands of the traced application, in operand order
     * @param out the result of the traced application
     * @param tangents per operand, its stacked tangent {@code [k] + inputs[i]}, or null for a zero tangent
     * @param k the number of stacked tangent vectors (the leading axis)
     * @return the stacked output tangent {@code [k] + out}, or null when it is zero
     */
    Var jvp(Var[] primals, Var out, Var[] tangents, int k);

    /**
     * Reverse-mode rule. {@code cotangent} has type {@code [k] + out}. Returns one entry per operand: the
     * stacked cotangent {@code [k] + inputs[i]} where {@code needed[i]}, null elsewhere (or where it is zero).
     *
     * @param primals the operands of the traced application, in operand order
     * @param out the result of the traced application
     * @param cotangent the stacked output cotangent {@code [k] + out}
     * @param needed per operand, whether its cotangent is wanted
     * @return an array with one entry per operand: its stacked cotangent, or null where not needed or zero
     */
    Var[] vjp(Var[] primals, Var out, Var cotangent, boolean[] needed);
}
