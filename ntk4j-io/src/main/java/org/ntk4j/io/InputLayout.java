package org.ntk4j.io;

import java.util.ArrayList;
import java.util.List;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.AvgPool;
import org.ntk4j.nn.BatchNorm;
import org.ntk4j.nn.BatchNormEval;
import org.ntk4j.nn.Conv;
import org.ntk4j.nn.FanOut;
import org.ntk4j.nn.GlobalAvgPool;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.LayerNorm;
import org.ntk4j.nn.Linearized;
import org.ntk4j.nn.MaxPool;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parallel;
import org.ntk4j.nn.Serial;
import org.ntk4j.nn.ToImage;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Lays a batch out for a model. Models do not declare one input shape: their first layer adapts
 * ({@code fcn} flattens any example, {@code cnn}/{@code resnet} read [H, W] or [H, W, C] as an image,
 * {@code transformer} reads the first axis as tokens), and {@link Model#outputShape} says whether a shape is
 * accepted. Data sources load images NHWC, [N, H, W, C] (Fashion-MNIST: [N, 28, 28, 1]), the shape every zoo
 * model accepts, and flattening in row-major order does not change the values an {@code fcn} sees.
 *
 * <p>The rule of {@link #exampleShapeFor}: the first of these shapes for which the model gives a vector
 * [K] per example (logits); failing that, the first it accepts at all:
 * <ol>
 *   <li>the data's own per-example shape;</li>
 *   <li>flattened, [D] (for models built in code whose first layer is dense: a dense layer maps the last
 *       axis, so it would accept [H, W, C] but give [H, W, K]);</li>
 *   <li>for flat data [D] with D = s²: a square one-channel image [s, s, 1] (a CSV or flat .npy of
 *       28·28 = 784 columns fed to a convolutional model).</li>
 * </ol>
 * Otherwise the error names the data's shape, the shapes tried and the model's own complaint. A caller who
 * knows the intended shape uses {@link #reshapeExamples}, which only checks that the element counts agree.
 *
 * <p><b>Channels-first images.</b> A model whose first layer reads an image (a convolution, a pooling or
 * {@code to_image}, after any activations, norms or residual fan-out: the zoo's {@code cnn}, {@code resnet},
 * {@code resnet18}, ..., and their {@code linearize(...)}) takes [H, W, C], and would take
 * PyTorch's [C, H, W] (a [N, 3, 32, 32] tensor saved with {@code np.save}) as images C pixels high with W channels,
 * silently: the kernel of other values. So a rank-3 example [C, H, W] with C = 1, 3 or 4 (grey, RGB, RGBA) and H
 * and W at least 8, which read as NHWC would be an image at most 4 pixels high of 8 or more channels, is taken as
 * channels-first: for C = 1 it is laid out [H, W, 1], which holds its values in the same order (no value moves);
 * for C = 3 or 4 it is refused, saying to save the images channels-last ({@code x.transpose(0, 2, 3, 1)}), since
 * reordering the values is the caller's to state, not a guess made here.
 */
public final class InputLayout {
    private InputLayout() {
    }

    /**
     * The per-example shape to give {@code model} for data whose examples have shape {@code dataShape}, by the rule
     * of the class comment.
     *
     * @param model the model the data is for
     * @param dataShape the shape of one data example (without the batch axis)
     * @return the chosen shape, with the same number of elements as {@code dataShape}
     * @throws IllegalArgumentException "shape mismatch: ..." when the model accepts none of the shapes tried, or
     *     when it reads images and the examples are channels-first images of 3 or 4 channels
     */
    public static int[] exampleShapeFor(Model model, int[] dataShape) {
        List<int[]> candidates = new ArrayList<>();
        if (channelsFirst(dataShape) && readsImages(model.root())) {
            int c = dataShape[0];
            int h = dataShape[1];
            int w = dataShape[2];
            if (c != 1) {
                throw new IllegalArgumentException("shape mismatch: data examples of shape " + Shapes.str(dataShape)
                        + " are channels-first images (NCHW, PyTorch's layout: " + c + " channels of " + h + " x " + w
                        + " pixels), but model " + model.spec() + " reads images as [H, W, C] (NHWC) and would take "
                        + "them as " + c + " x " + h + " images of " + w + " channels; save them channels-last, "
                        + "x.transpose(0, 2, 3, 1) (torch: x.permute(0, 2, 3, 1)), examples of shape ["
                        + h + ", " + w + ", " + c + "]");
            }
            // one channel first: [1, H, W] holds the values of [H, W, 1] in the same order, so this moves none
            candidates.add(new int[] {h, w, 1});
        }
        candidates.add(dataShape.clone());
        int d = Shapes.size(dataShape);
        if (dataShape.length != 1) {
            candidates.add(new int[] {d});
        } else {
            int s = (int) Math.round(Math.sqrt(d));
            if (s * s == d && s > 1) {
                candidates.add(new int[] {s, s, 1});
            }
        }
        IllegalArgumentException first = null;
        int[] accepted = null;
        for (int[] c : candidates) {
            try {
                int[] out = model.outputShape(c);
                if (out.length == 1) {
                    return c;
                }
                if (accepted == null) {
                    accepted = c;
                }
            } catch (IllegalArgumentException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (accepted != null) {
            return accepted;
        }
        StringBuilder tried = new StringBuilder();
        for (int[] c : candidates) {
            tried.append(tried.length() == 0 ? "" : ", ").append(Shapes.str(c));
        }
        throw new IllegalArgumentException("shape mismatch: data examples of shape " + Shapes.str(dataShape)
                + " do not fit model " + model.spec() + " (tried " + tried + "): " + first.getMessage());
    }

    /**
     * Whether an example shape looks like a channels-first image [C, H, W]: C of 1, 3 or 4 and H, W of at least
     * 8, which as [H, W, C] would be an image at most 4 pixels high of 8 or more channels (see the class comment).
     */
    private static boolean channelsFirst(int[] shape) {
        return shape.length == 3 && (shape[0] == 1 || shape[0] == 3 || shape[0] == 4) && shape[1] >= 8
                && shape[2] >= 8;
    }

    /**
     * Whether {@code layer} reads its input as images [H, W, C]: the first layer that decides the layout (each
     * branch's, for parallel ones) is a convolution, a pooling or {@code to_image}. Layers that keep the shape and
     * read no spatial axis (activations, batch and layer norms, a fan-out) come before it without deciding, so a
     * network built in code that starts with a residual block, a ReLU or a batch norm before its first convolution
     * reads images too; {@code linearize(...)} and {@code taylor2(...)} read their input as the network they expand
     * (until the review of 2026-12-07 all of these took [3, 32, 32] as 3 x 32 images of 32 channels, silently).
     */
    private static boolean readsImages(Layer layer) {
        if (layer instanceof Linearized l) {
            return readsImages(l.base().root());
        }
        if (layer instanceof Serial s) {
            for (Layer inner : s.layers()) {
                if (!keepsLayout(inner)) {
                    return readsImages(inner);
                }
            }
            return false;
        }
        if (layer instanceof Parallel p) {
            return p.layers().stream().anyMatch(InputLayout::readsImages);
        }
        return layer instanceof ToImage || layer instanceof Conv || layer instanceof AvgPool
                || layer instanceof MaxPool || layer instanceof GlobalAvgPool;
    }

    /** Whether {@code layer} keeps its input's shape and reads no spatial axis: the layout is left to what follows. */
    private static boolean keepsLayout(Layer layer) {
        return layer instanceof Activation || layer instanceof FanOut || layer instanceof BatchNorm
                || layer instanceof BatchNormEval || layer instanceof LayerNorm;
    }

    /**
     * {@code x} [N, ...] laid out for {@code model} by the rule above: a new tensor the caller closes (a copy
     * even when the shape is kept, so ownership is always the same).
     *
     * @param model the model the data is for
     * @param x the inputs [N, ...]; left open
     * @return the inputs [N, ...example shape], a new tensor the caller closes
     * @throws IllegalArgumentException when the model accepts none of the shapes tried
     */
    public static Tensor forModel(Model model, Tensor x) {
        int[] shape = exampleShapeFor(model, Shapes.dropFirst(x.shape()));
        return x.reshape(Shapes.prepend(x.dim(0), shape));
    }

    /**
     * A new dataset with inputs laid out for {@code model}; same labels. The caller closes it.
     *
     * @param model the model the data is for
     * @param data the dataset; left open
     * @return the new dataset, which the caller closes
     * @throws IllegalArgumentException naming the dataset when the model accepts none of the shapes tried
     */
    public static Dataset forModel(Model model, Dataset data) {
        try {
            return data.withX(forModel(model, data.x()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(data.name() + ": " + e.getMessage(), e);
        }
    }

    /**
     * A copy of {@code x} [N, ...] with each example reshaped to {@code exampleShape} (row-major order kept).
     *
     * @param x the inputs [N, ...]; left open
     * @param exampleShape the shape of one example, every axis at least 1
     * @return the inputs [N, ...exampleShape], a new tensor the caller closes

     * @throws IllegalArgumentException naming both shapes when the element counts differ, or when an axis of
     *     {@code exampleShape} is below 1

     */
    public static Tensor reshapeExamples(Tensor x, int... exampleShape) {
        int[] have = Shapes.dropFirst(x.shape());
        for (int v : exampleShape) {
            if (v < 1) {
                throw new IllegalArgumentException("shape mismatch: example shape " + Shapes.str(exampleShape)
                        + " has a non-positive axis");
            }
        }
        if (Shapes.size(have) != Shapes.size(exampleShape)) {
            throw new IllegalArgumentException("shape mismatch: data examples of shape " + Shapes.str(have) + " ("
                    + Shapes.size(have) + " values) cannot be read as " + Shapes.str(exampleShape) + " ("
                    + Shapes.size(exampleShape) + " values)");
        }
        return x.reshape(Shapes.prepend(x.dim(0), exampleShape));
    }
}
