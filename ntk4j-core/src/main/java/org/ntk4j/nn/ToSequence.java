package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/** Reads each example as a sequence: per example [T, a, b, ...] to [T, a·b·...] (rank 1 gives [T, 1]). */
public final class ToSequence extends SingleLayer {
    @Override
    public String kind() {
        return "to_sequence";
    }

    @Override
    int[] outputShape(int[] in) {
        if (in.length == 0) {
            throw new IllegalArgumentException("to_sequence: needs at least one axis per example, got a scalar");
        }
        return new int[] {in[0], in.length == 1 ? 1 : Shapes.size(in, 1, in.length)};
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        int[] out = outputShape(Shapes.dropFirst(x.shape()));
        return x.reshape(x.dim(0), out[0], out[1]);
    }
}
