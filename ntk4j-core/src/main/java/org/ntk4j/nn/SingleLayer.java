package org.ntk4j.nn;

import java.util.List;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/** Base of the layers with one input and one output. */
abstract class SingleLayer implements Layer {
    /** Per-example output shape; validates the input shape. */
    abstract int[] outputShape(int[] in);

    /** Declares parameters for the per-example input shape {@code in}. */
    void declare(ParamScope scope, int[] in) {
    }

    /** The forward pass on a batch (example axis first). */
    abstract Var apply(ParamScope scope, Var x);

    @Override
    public final List<int[]> outputShapes(List<int[]> in) {
        return List.of(outputShape(single(in)));
    }

    @Override
    public final void declare(ParamScope scope, List<int[]> in) {
        declare(scope, single(in));
    }

    @Override
    public final List<Var> apply(ParamScope scope, List<Var> in) {
        if (in.size() != 1) {
            throw new IllegalArgumentException(kind() + ": expects one input, got " + in.size());
        }
        return List.of(apply(scope, in.get(0)));
    }

    private int[] single(List<int[]> in) {
        if (in.size() != 1) {
            throw new IllegalArgumentException(kind() + ": expects one input, got " + in.size()
                    + " (a fanOut must be followed by parallel and a fanIn)");
        }
        return in.get(0);
    }

    /** Fails naming this layer unless the per-example input has {@code rank} axes. */
    void requireRank(int[] in, int rank, String what) {
        if (in.length != rank) {
            throw new IllegalArgumentException(kind() + ": expects per-example inputs of rank " + rank + " (" + what
                    + "), got shape " + Shapes.str(in));
        }
    }

    @Override
    public String toString() {
        return kind();
    }
}
