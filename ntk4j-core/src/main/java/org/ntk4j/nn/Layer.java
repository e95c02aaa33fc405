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
    /**
     * A short lower-case kind used in parameter paths and descriptions, e.g. {@code dense}.
     *
     * @return the kind, never null
     */
    String kind();

    /**
     * Per-example output shapes for per-example input shapes; fails with an {@link IllegalArgumentException}
     * that names the layer and the shapes when they do not fit.
     *
     * @param inputShapes per input, its per-example shape (without the example axis); not modified
     * @return per output, its per-example shape
     * @throws IllegalArgumentException if the number or shapes of the inputs do not fit this layer
     */
    List<int[]> outputShapes(List<int[]> inputShapes);

    /**
     * Declares this layer's parameters in {@code scope} (none by default).
     *
     * @param scope the scope to declare the parameters in, at this layer's path
     * @param inputShapes per input, its per-example shape, as accepted by {@link #outputShapes}
     */
    default void declare(ParamScope scope, List<int[]> inputShapes) {
    }

    /**
     * The forward pass on traced inputs (example axis first).
     *
     * @param scope the scope this layer's parameters are read from, at this layer's path
     * @param inputs the traced inputs, each with the example axis first
     * @return the traced outputs, each with the example axis first
     */
    List<Var> apply(ParamScope scope, List<Var> inputs);

    /**
     * True when the layer treats examples independently: f(x)[n] depends on x[n] alone. This enables the
     * per-example shortcut of the NTK methods; BatchNorm in training mode says false.
     *
     * @return true when examples are treated independently (the default)
     */
    default boolean independentExamples() {
        return true;
    }
}
