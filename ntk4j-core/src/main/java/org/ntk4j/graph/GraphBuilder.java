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

    /** A new graph input of the given type. */
    public Var input(TensorType type) {
        checkOpen();
        Var v = new Var(this, nextId++, type);
        inputs.add(v);
        return v;
    }

    /** A new graph input. */
    public Var input(DType dtype, int... shape) {
        return input(new TensorType(dtype, shape));
    }

    /** A constant embedded in the graph (the tensor is shared, not copied: do not close it while in use). */
    public Var constant(Tensor value) {
        checkOpen();
        Var v = new Var(this, nextId++, TensorType.of(value));
        constants.put(v, value);
        return v;
    }

    /** A rank-0 constant. */
    public Var scalar(double value, DType dtype) {
        return constant(Tensor.scalar(dtype, value));
    }

    /** A constant of zeros of the given type (a broadcast scalar, so it costs no storage until evaluated). */
    public Var zeros(TensorType type) {
        Var zero = scalar(0.0, type.dtype());
        int[] shape = type.shape();
        return shape.length == 0 ? zero : zero.broadcastInDim(shape, new int[0]);
    }

    /**
     * Records {@code primitive(inputs)}. The primitive checks the operand types and fails with a message
     * naming itself and the shapes when they do not fit.
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

    /** The equation that produced {@code v}, or null for inputs and constants. */
    public Equation producer(Var v) {
        return producers.get(v);
    }

    /** True when {@code v} is a constant of this builder. */
    public boolean isConstant(Var v) {
        return constants.containsKey(v);
    }

    /** The value of a constant variable, or null. */
    public Tensor constantValue(Var v) {
        return constants.get(v);
    }

    /**
     * Finishes the graph with the given outputs, dropping every equation and constant they do not depend on.
     * The builder cannot be used afterwards.
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
