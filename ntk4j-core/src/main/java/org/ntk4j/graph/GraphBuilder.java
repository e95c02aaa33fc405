package org.ntk4j.graph;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.primitive.Primitive;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** Records equations into a graph under construction. Not thread-safe: one builder per trace. */
public final class GraphBuilder {
    private final List<Var> inputs = new ArrayList<>();
    private final List<Equation> equations = new ArrayList<>();
    private final Map<Var, Tensor> constants = new IdentityHashMap<>();
    private final Map<Var, Equation> producers = new IdentityHashMap<>();
    private int nextId;
    private boolean built;

    /**
     * A new graph input of the given type; inputs are numbered in creation order.
     *
     * @param type the input's dtype and shape
     * @return the new input variable
     * @throws IllegalStateException when the graph was already built
     */
    public Var input(TensorType type) {
        checkOpen();
        Var v = new Var(this, nextId++, type);
        inputs.add(v);
        return v;
    }

    /**
     * A new graph input.
     *
     * @param dtype the element type
     * @param shape the static shape (no entry negative)
     * @return the new input variable
     * @throws IllegalArgumentException when a dimension is negative or the shape has more than 2^31-1 elements
     * @throws IllegalStateException when the graph was already built
     */
    public Var input(DType dtype, int... shape) {
        return input(new TensorType(dtype, shape));
    }

    /**
     * A constant embedded in the graph (the tensor is shared, not copied: do not close it while in use).
     *
     * @param value the constant's value; ownership stays with the caller
     * @return a variable of the tensor's type that stands for it
     * @throws IllegalStateException when the graph was already built
     */
    public Var constant(Tensor value) {
        checkOpen();
        Var v = new Var(this, nextId++, TensorType.of(value));
        constants.put(v, value);
        return v;
    }

    /**
     * A rank-0 constant. Its tensor is allocated here and never closed by the graph.
     *
     * @param value the value, rounded to float32 for {@link DType#F32}
     * @param dtype the element type
     * @return a rank-0 constant variable
     * @throws IllegalStateException when the graph was already built
     */
    public Var scalar(double value, DType dtype) {
        return constant(Tensor.scalar(dtype, value));
    }

    /**
     * A constant of zeros of the given type (a broadcast scalar, so it costs no storage until evaluated).
     *
     * @param type the dtype and shape of the zeros
     * @return a rank-0 zero constant for a rank-0 type, else a broadcast of one
     * @throws IllegalStateException when the graph was already built
     */
    public Var zeros(TensorType type) {
        Var zero = scalar(0.0, type.dtype());
        int[] shape = type.shape();
        return shape.length == 0 ? zero : zero.broadcastInDim(shape, new int[0]);
    }

    /**
     * Records {@code primitive(inputs)}. The primitive checks the operand types and fails with a message
     * naming itself and the shapes when they do not fit.
     *
     * @param primitive the operation, with its static parameters
     * @param in the operands, in the order the primitive takes them
     * @return the new variable the equation defines, of the type the primitive computes
     * @throws IllegalArgumentException when an operand is null, belongs to another builder, or has a type the
     *         primitive refuses
     * @throws IllegalStateException when the graph was already built
     */
    public Var apply(Primitive primitive, Var... in) {
        checkOpen();
        TensorType[] types = new TensorType[in.length];
        for (int i = 0; i < in.length; i++) {
            if (in[i] == null) {
                throw new IllegalArgumentException(primitive.name() + ": operand " + i + " is null");
            }
            if (in[i].builder() != this) {
                throw new IllegalArgumentException(primitive.name() + ": operand " + i
                        + " belongs to another graph");
            }
            types[i] = in[i].type();
        }
        TensorType outType = primitive.outputType(types);
        Var out = new Var(this, nextId++, outType);
        Equation e = new Equation(primitive, new ArrayList<>(Arrays.asList(in)), out);
        equations.add(e);
        producers.put(out, e);
        return out;
    }

    /**
     * The equation that produced {@code v}.
     *
     * @param v a variable of this builder
     * @return its defining equation, or null for inputs and constants (and for variables of other builders)
     */
    public Equation producer(Var v) {
        return producers.get(v);
    }

    /**
     * Whether {@code v} is a constant of this builder.
     *
     * @param v a variable
     * @return true when {@code v} was made by {@link #constant}, {@link #scalar} or {@link #zeros} of this builder
     */
    public boolean isConstant(Var v) {
        return constants.containsKey(v);
    }

    /**
     * The value of a constant variable.
     *
     * @param v a variable
     * @return the tensor passed to {@link #constant} (shared, not a copy: do not close it), or null when {@code v}
     *         is not a constant of this builder
     */
    public Tensor constantValue(Var v) {
        return constants.get(v);
    }

    /**
     * Finishes the graph with the given outputs, dropping every equation and constant they do not depend on.
     * The builder cannot be used afterwards. Unused inputs are kept, so the graph's inputs are all inputs made here.
     *
     * @param outputs the graph outputs, in order (repeats allowed)
     * @return the finished, immutable graph
     * @throws IllegalArgumentException when an output belongs to another builder
     * @throws IllegalStateException when the graph was already built
     */
    public Graph build(Var... outputs) {
        checkOpen();
        for (Var o : outputs) {
            if (o.builder() != this) {
                throw new IllegalArgumentException("build: an output belongs to another graph");
            }
        }
        built = true;
        // Dead-code elimination: keep only the equations and constants the outputs depend on.
        java.util.Set<Var> live = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        live.addAll(Arrays.asList(outputs));
        List<Equation> kept = new ArrayList<>();
        for (int i = equations.size() - 1; i >= 0; i--) {
            Equation e = equations.get(i);
            if (live.contains(e.output())) {
                kept.add(e);
                live.addAll(e.inputs());
            }
        }
        java.util.Collections.reverse(kept);
        Map<Var, Tensor> usedConstants = new IdentityHashMap<>();
        for (Map.Entry<Var, Tensor> c : constants.entrySet()) {
            if (live.contains(c.getKey())) {
                usedConstants.put(c.getKey(), c.getValue());
            }
        }
        return new Graph(new ArrayList<>(inputs), kept, Arrays.asList(outputs.clone()), usedConstants);
    }

    private void checkOpen() {
        if (built) {
            throw new IllegalStateException("this graph was already built");
        }
    }
}
