package org.ntk4j.nn;

import java.util.List;
import org.ntk4j.graph.Var;

/**
 * A network layer as a composable (init, apply) pair, in the manner of neural-tangents' stax.
 *
 * <p>Values flowing between layers are lists of traced tensors (one for ordinary layers, several after
 * {@code fanOut} or inside {@code parallel}), each with the example axis first. Shapes given to
 * {@link #outputShapes} exclude that axis: they are per example.
 */
public interface Layer {
    /** A short lower-case kind used in parameter paths and descriptions, e.g. {@code dense}. */
    String kind();

    /**
     * Per-example output shapes for per-example input shapes; fails with an {@link IllegalArgumentException}
     * that names the layer and the shapes when they do not fit.
     */
    List<int[]> outputShapes(List<int[]> inputShapes);

    /** Declares this layer's parameters in {@code scope} (none by default). */
    default void declare(ParamScope scope, List<int[]> inputShapes) {
    }

    /** The forward pass on traced inputs (example axis first). */
    List<Var> apply(ParamScope scope, List<Var> inputs);

    /**
     * True when the layer treats examples independently: f(x)[n] depends on x[n] alone. This enables the
     * per-example shortcut of the NTK methods; BatchNorm in training mode says false.
     */
    default boolean independentExamples() {
        return true;
    }
}
