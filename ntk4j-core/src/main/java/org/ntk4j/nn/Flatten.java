package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/** Reshapes each example to a vector: [N, ...] to [N, prod(...)]. */
public final class Flatten extends SingleLayer {
    @Override
    public String kind() {
        return "flatten";
    }

    @Override
    int[] outputShape(int[] in) {
        return new int[] {Shapes.size(in)};
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        return x.reshape(x.dim(0), -1);
    }
}
