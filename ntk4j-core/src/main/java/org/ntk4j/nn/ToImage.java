package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/** Reads each example as an image: per example [H, W] becomes [H, W, 1]; [H, W, C] is kept. */
public final class ToImage extends SingleLayer {
    @Override
    public String kind() {
        return "to_image";
    }

    @Override
    int[] outputShape(int[] in) {
        if (in.length == 2) {
            return new int[] {in[0], in[1], 1};
        }
        if (in.length == 3) {
            return in;
        }
        throw new IllegalArgumentException("to_image: expects per-example inputs [H, W] or [H, W, C], got "
                + Shapes.str(in));
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        return x.reshape(Shapes.prepend(x.dim(0), outputShape(Shapes.dropFirst(x.shape()))));
    }
}
