package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/** Mean over the spatial axes: per example [..spatial.., C] to [C]. */
public final class GlobalAvgPool extends SingleLayer {
    @Override
    public String kind() {
        return "global_avg_pool";
    }

    @Override
    int[] outputShape(int[] in) {
        if (in.length < 2) {
            throw new IllegalArgumentException("global_avg_pool: expects per-example inputs [spatial..., channels], "
                    + "got shape " + Shapes.str(in));
        }
        return new int[] {in[in.length - 1]};
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        int[] spatial = new int[x.rank() - 2];
        for (int i = 0; i < spatial.length; i++) {
            spatial[i] = i + 1;
        }
        return x.mean(spatial);
    }
}
