package org.ntk4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.InputLayout;
import org.ntk4j.io.NpyHeader;
import org.ntk4j.io.Npz;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.onnx.OnnxModel;
import org.ntk4j.onnx.OnnxSpec;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine.Option;

/**
 * The options of an imported ONNX model, and the one place that turns a {@code --model} argument (a zoo spec or an
 * .onnx file) into a model, its parameters and the data's layout, for every command.
 */
final class ModelArgument {
    @Option(names = "--freeze", paramLabel = "REGEX", description = "ONNX model: make the parameters whose "
            + "initializer name matches REGEX (anywhere in the name) constants.")
    String freeze;

    @Option(names = "--params-only", paramLabel = "REGEX", description = "ONNX model: keep only the parameters "
            + "whose initializer name matches REGEX; the others are constants.")
    String paramsOnly;

    @Option(names = "--input-shape", paramLabel = "[NAME:]SHAPE", description = "ONNX model: the per-example input "
            + "shape (without the batch axis, the model's layout, e.g. 3,32,32 or x:3,32,32) for dynamic axes; for a "
            + "model with several inputs, NAME:SHAPE once per input whose axes are dynamic (e.g. "
            + "--input-shape input_ids:16 --input-shape attention_mask:16).")
    List<String> inputShape;

    @Option(names = "--output", paramLabel = "NAME", description = "ONNX model: the graph output to take, for a "
            + "model with several.")
    String output;

    /**
     * A model argument resolved: the model and, for an .onnx file, the import (its stored weights and input shape).
     *
     * @param model the model (for an ONNX file, its spec is the {@link OnnxSpec})
     * @param onnx the import, or null for a zoo model
     */
    record Resolved(Model model, OnnxModel onnx) {
        /**
         * The inputs laid out for the model, a new tensor. A zoo model takes the data as {@link InputLayout} does;
         * an ONNX model takes examples of its input shape, or flat data of as many values read row-major in its
         * layout, or images whose flattening is its flat input.
         */
        Tensor layout(String option, Tensor x) {
            if (onnx == null) {
                // the refusal ("shape mismatch: data examples of shape [10] do not fit ...") names the option
                return KernelOptions.named(option, () -> InputLayout.forModel(model, x));
            }
            Tensor laidOut = x.reshape(Shapes.prepend(x.dim(0), exampleShape(option, Shapes.dropFirst(x.shape()))));
            try {
                onnx.checkIds(option, laidOut);
            } catch (IllegalArgumentException e) {
                laidOut.close();
                throw e;
            }
            return laidOut;
        }

        /**
         * The data source to read for {@code option}: {@code spec} itself, but for an ONNX model with several inputs
         * an .npz archive with one array per input name (np.savez("x.npz", input_ids=ids, attention_mask=mask)),
         * checked against the model (every input there, no other array but the labels, one N, each input's
         * per-example shape) and read packed ({@link org.ntk4j.io.DataSource}'s {@code x=KEY1,KEY2,...}, in the
         * graph's order).
         */
        String dataSpec(String option, String spec) throws IOException {
            if (onnx == null || !onnx.packedInputs() || spec == null) {
                return spec;
            }
            List<String> inputs = onnx.inputNames();
            String s = spec.trim();
            boolean prefixed = s.toLowerCase(java.util.Locale.ROOT).startsWith("npz:");
            String[] parts = (prefixed ? s.substring(4) : s).split(":", -1);
            Path file = Path.of(parts[0]);
            String example = "np.savez(\"x.npz\", " + String.join(", ", inputs.stream().map(n -> n + "=...")
                    .toList()) + ")";
            if (!prefixed && !parts[0].toLowerCase(java.util.Locale.ROOT).endsWith(".npz")) {
                throw new IllegalArgumentException(option + ": the model has " + inputs.size() + " inputs " + inputs
                        + "; give them as an .npz archive with one array per input name (" + example + "), got '"
                        + spec + "'");
            }
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException(option + ": file not found: " + file);
            }
            String labels = "y";
            List<String> options = new ArrayList<>();
            for (int i = 1; i < parts.length; i++) {
                String o = parts[i].trim();
                if (o.toLowerCase(java.util.Locale.ROOT).startsWith("x=")) {
                    throw new IllegalArgumentException(option + ": :x= does not apply to a model with several "
                            + "inputs " + inputs + ", which reads the arrays named as its inputs");
                }
                if (o.toLowerCase(java.util.Locale.ROOT).startsWith("y=")) {
                    labels = o.substring(2).trim();
                }
                options.add(o);
            }
            Map<String, NpyHeader> headers = Npz.readHeaders(file);
            for (String name : headers.keySet()) {
                if (!inputs.contains(name) && !name.equals(labels)) {
                    throw new IllegalArgumentException(option + ": " + file + " holds an array '" + name + "' that is "
                            + "not one of the model's inputs " + inputs + " (nor the labels, '" + labels + "')");
                }
            }
            String first = null;
            for (String name : inputs) {
                NpyHeader h = headers.get(name);
                if (h == null) {
                    throw new IllegalArgumentException(option + ": " + file + " has no array '" + name + "' for the "
                            + "model's input '" + name + "' (it holds " + String.join(", ", headers.keySet())
                            + "); the model's inputs are " + inputs);
                }
                int[] want = onnx.inputShape(name);
                int[] have = h.shape().length == 0 ? null : Shapes.dropFirst(h.shape());
                if (have == null || !Arrays.equals(have, want)) {
                    throw new IllegalArgumentException(option + ": the model's input '" + name + "' takes examples of "
                            + "shape " + Shapes.str(want) + ", array '" + name + "' of " + file + " has shape "
                            + Shapes.str(h.shape()) + (have == null ? "" : " (examples of shape " + Shapes.str(have)
                            + ")"));
                }
                if (first != null && h.shape()[0] != headers.get(first).shape()[0]) {
                    throw new IllegalArgumentException(option + ": array '" + name + "' of " + file + " has "
                            + h.shape()[0] + " examples, array '" + first + "' has " + headers.get(first).shape()[0]
                            + "; every input needs one row per example");
                }
                first = first == null ? name : first;
            }
            StringBuilder r = new StringBuilder("npz:").append(parts[0]).append(":x=").append(String.join(",", inputs));
            for (String o : options) {
                r.append(':').append(o);
            }
            return r.toString();
        }

        /**
         * Inputs that go with others already laid out for the model (kernel's --x2 with --data, predict's --test
         * with --train), a new tensor: a zoo model takes them in the others' example shape when they are flat rows
         * of as many values or that shape up to axes of size 1, and refuses another order of the values
         * ({@link KernelOptions#laidOutLike}); an ONNX model as {@link #layout(String, Tensor)} lays them out.
         *
         * @param option the option of the inputs, e.g. "--x2"
         * @param x the inputs, of as many values per example as the others (the caller checked)
         * @param exampleShape the others' laid-out example shape
         * @param reference what they go with, e.g. "the --data examples"
         */
        Tensor layoutLike(String option, Tensor x, int[] exampleShape, String reference) {
            return onnx == null ? KernelOptions.laidOutLike(option, x, exampleShape, reference) : layout(option, x);
        }

        /** {@link #layout(String, Tensor)} for a dataset (same labels), a new dataset. */
        Dataset layout(String option, Dataset d) {
            if (onnx == null) {
                return KernelOptions.named(option, () -> InputLayout.forModel(model, d));
            }
            return d.withX(layout(option, d.x()));
        }

        private int[] exampleShape(String option, int[] have) {
            int[] want = onnx.inputShape();
            // Flat rows, and a shape equal to the model's up to axes of size 1 ([28, 28, 1] or [28, 28] for a
            // PyTorch export's [1, 28, 28]: the embedded Fashion-MNIST), hold the values in the model's row-major
            // order, so reading them in its shape moves none; any other shape would need a transpose, not guessed.
            if (Arrays.equals(have, want) || Shapes.size(have) == Shapes.size(want)
                    && (have.length == 1 || want.length == 1
                        || Arrays.equals(KernelOptions.withoutUnitAxes(have), KernelOptions.withoutUnitAxes(want)))) {
                return want;
            }
            throw new IllegalArgumentException(option + ": the model's input '" + onnx.inputName() + "' takes "
                    + "examples of shape " + Shapes.str(want) + " (its own layout: NCHW for PyTorch exports, "
                    + "NHWC for Keras and JAX ones), got " + Shapes.str(have) + transposeHint(have, want));
        }

        /**
         * For images in the other layout (rank 3, the same axes moved: [H, W, C] for a model taking [C, H, W] or
         * the reverse), the transpose that gives the model's; otherwise empty.
         */
        private static String transposeHint(int[] have, int[] want) {
            if (have.length != 3 || want.length != 3) {
                return "";
            }
            if (have[0] == want[1] && have[1] == want[2] && have[2] == want[0]) {
                return "; the data is channels-last (NHWC): save it channels-first, x.transpose(0, 3, 1, 2)";
            }
            if (have[0] == want[2] && have[1] == want[0] && have[2] == want[1]) {
                return "; the data is channels-first (NCHW): save it channels-last, x.transpose(0, 2, 3, 1)";
            }
            return "";
        }

        /**
         * The parameters: those of {@code paramsIn} (checked against the model's names and shapes) or else an ONNX
         * model's stored weights or a zoo model's initialisation of {@code seed}.
         */
        Params params(Path paramsIn, long seed, int[] perExample, DType dtype) throws IOException {
            if (paramsIn != null) {
                return KernelOptions.named("--params-in", () -> ParamsFile.load(paramsIn, model, perExample, dtype));
            }
            return onnx != null ? onnx.params(dtype) : model.init(seed, perExample, dtype);
        }

        /** Refuses, for an ONNX model, an option that draws new parameters from a seed. */
        void requireSeededParams(String option) {
            if (onnx != null) {
                throw new IllegalArgumentException(option + ": draws parameters from seeds, but an ONNX model's "
                        + "parameters are its stored weights; use a zoo model");
            }
        }
    }

    /**
     * Refuses, in one line naming --model, a model file where the command builds a zoo model from its spec (train):
     * without this the zoo's parser said "'net.onnx' is not a model name", naming neither the option nor the
     * reason, although the file exists and other commands take it.
     *
     * @param model the --model value
     * @param what what the command does with a zoo model, e.g. "train initialises and trains a zoo model from its
     *     spec"
     */
    static void requireZoo(String model, String what) {
        if (isOnnx(model)) {
            throw new IllegalArgumentException("--model " + model.trim() + ": " + what + " (see 'ntk4j models'), "
                    + "not a model file such as an ONNX export; kernel, explain, predict, spectrum, approx and study "
                    + "take one");
        }
    }

    /**
     * Whether {@code model} names an ONNX file: {@code onnx:FILE}, a path ending in {@code .onnx}, or an existing
     * file (a zoo spec is never one).
     */
    static boolean isOnnx(String model) {
        if (OnnxSpec.isOnnx(model)) {
            return true;
        }
        try {
            return Files.isRegularFile(Path.of(model.trim()));
        } catch (InvalidPathException e) {
            return false;
        }
    }

    /**
     * Resolves {@code --model}: a zoo spec, or an .onnx file read with these options. The ONNX options with a zoo
     * spec are an error.
     */
    Resolved resolve(String model) {
        if (!isOnnx(model)) {
            String given = freeze != null ? "--freeze" : paramsOnly != null ? "--params-only"
                    : inputShape != null ? "--input-shape" : output != null ? "--output" : null;
            if (given != null) {
                throw new IllegalArgumentException(given + ": only for an ONNX model (--model FILE.onnx), not the zoo "
                        + "model '" + model + "'");
            }
            return new Resolved(Zoo.parse(model), null);
        }
        OnnxSpec base = OnnxSpec.parse(model);
        int[] shape = base.inputShape();
        Map<String, int[]> named = base.namedInputShapes();
        if (inputShape != null) {
            shape = null;
            named = new LinkedHashMap<>();
            for (String value : inputShape) {
                String text = value.trim();
                int colon = text.lastIndexOf(':');
                int[] sizes = OnnxSpec.parseShape("--input-shape", text.substring(colon + 1));
                if (colon < 0 && inputShape.size() > 1) {
                    throw new IllegalArgumentException("--input-shape: given " + inputShape.size() + " times, so "
                            + "each needs its input's name (NAME:SHAPE), got '" + value + "'");
                }
                String name = colon < 0 ? null : text.substring(0, colon).trim();
                if (name != null && named.put(name, sizes) != null) {
                    throw new IllegalArgumentException("--input-shape: input '" + name + "' is given twice");
                }
                shape = name == null ? sizes : null;
            }
        }
        OnnxSpec s = new OnnxSpec(base.file(), shape, output != null ? output : base.output(),
                freeze != null ? freeze : base.freeze(), paramsOnly != null ? paramsOnly : base.paramsOnly(), named);
        if (Files.isDirectory(s.file())) { // an existing directory is not "not found"
            throw new IllegalArgumentException("--model: " + s.file() + " is a directory; expected an ONNX file");
        }
        if (!Files.isRegularFile(s.file())) {
            throw new IllegalArgumentException("--model: ONNX file not found: " + s.file());
        }
        OnnxModel onnx;
        try {
            onnx = s.load();
        } catch (IllegalArgumentException e) {
            String wrongName = s.file() + ": the model's input is '";
            if (e.getMessage().startsWith(wrongName)) {
                // a NAME:SHAPE whose NAME is not the one input's
                throw new IllegalArgumentException("--input-shape: " + e.getMessage().substring(s.file().toString()
                        .length() + 2), e);
            }
            // the library names its Java options; here they are the command's
            throw new IllegalArgumentException("--model " + e.getMessage()
                    .replace("OnnxModel.Options.inputShape", "--input-shape")
                    .replace("OnnxModel.Options.output", "--output"), e);
        }
        return new Resolved(s.model(onnx), onnx);
    }
}
