package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.io.Npz;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.onnx.OnnxModel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@code --model FILE.onnx} on small files written with the generated protobuf classes: the kernel of a linear model
 * against its closed form, an MLP's against the library's, the parameter options, {@code --params-out} and
 * {@code --params-in}, {@code explain}'s parameter list, the other commands, and every bad file as one line.
 */
class OnnxCommandTest {
    /** x [5, 4] with entries a few units in size, exact in float32. */
    private static final double[] X = {1, 0.5, -1, 2, 0, 1, 1.5, -0.5, -2, 1, 0, 0.25, 0.5, -1.5, 1, 1, 3, 0, -1, 0.5};

    @TempDir
    Path dir;

    private Path data() throws Exception {
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(X, 5, 4)) {
            Npy.write(x, t);
        }
        return x;
    }

    /** x1·x2 + c over the rows of X. */
    private static double[] gram(double c) {
        double[] k = new double[25];
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 5; j++) {
                double s = c;
                for (int d = 0; d < 4; d++) {
                    s += X[4 * i + d] * X[4 * j + d];
                }
                k[5 * i + j] = s;
            }
        }
        return k;
    }

    /** The library's traced eNTK of {@code onnx} on X with {@code params} (float64). */
    private static double[] library(OnnxModel onnx, Params params) {
        try (Tensor x = Tensor.of(X, 5, 4); Tensor k = EmpiricalNtk.of(onnx.model(), params).ntk(x, null)) {
            double[] v = new double[25];
            for (int i = 0; i < 25; i++) {
                v[i] = k.getFlat(i);
            }
            return v;
        }
    }

    @Test
    void linearModelsKernelIsItsClosedFormForEveryKindAndWithFrozenBias() throws Exception {
        Path model = OnnxFiles.linear(dir.resolve("linear.onnx"));
        Path x = data();
        for (String kind : new String[] {"trace", "pntk"}) {
            Path k = dir.resolve(kind + ".npy");
            String[] r = CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--kind", kind,
                    "--dtype", "f64", "--out", k.toString(), "--quiet");
            assertThat(r[0]).contains("10 parameters");
            OnnxFiles.assertClose(CliRuns.values(k), gram(1), 1e-12);
        }
        // the bias frozen: Θ = x1·x2, with 8 parameters
        Path k = dir.resolve("frozen.npy");
        String[] r = CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--dtype", "f64",
                "--freeze", "^b$", "--out", k.toString(), "--quiet");
        assertThat(r[0]).contains("8 parameters");
        OnnxFiles.assertClose(CliRuns.values(k), gram(0), 1e-12);
        r = CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--dtype", "f64",
                "--params-only", "^b$", "--out", k.toString(), "--overwrite", "--quiet");
        assertThat(r[0]).contains("2 parameters");
        double[] ones = new double[25];
        java.util.Arrays.fill(ones, 1);
        OnnxFiles.assertClose(CliRuns.values(k), ones, 1e-12);
    }

    @Test
    void mlpKernelEqualsTheLibrarysAndFreezeChangesBoth() throws Exception {
        Path model = OnnxFiles.mlp(dir.resolve("mlp.onnx"));
        Path x = data();
        Path k = dir.resolve("k.npy");
        String[] r = CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--dtype", "f64",
                "--method", "jc", "--out", k.toString(), "--quiet");
        assertThat(r[0]).contains("23 parameters");
        OnnxModel onnx = OnnxModel.load(model);
        double[] full;
        try (Params p = onnx.params(DType.F64)) {
            full = library(onnx, p);
        }
        OnnxFiles.assertClose(CliRuns.values(k), full, 1e-12);

        Path kf = dir.resolve("kf.npy");
        r = CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--dtype", "f64",
                "--freeze", "^W1$", "--out", kf.toString(), "--quiet");
        assertThat(r[0]).contains("11 parameters");
        OnnxModel frozen = onnx.freeze(Pattern.compile("^W1$"));
        try (Params p = frozen.params(DType.F64)) {
            double[] expected = library(frozen, p);
            OnnxFiles.assertClose(CliRuns.values(kf), expected, 1e-12);
            assertThat(Math.abs(expected[0] - full[0])).isGreaterThan(1e-3);
        }

        // pntk = (1/O) Σ_{k,m} Θ_km of the full kernel [5, 5, 2, 2] (in-memory, by another method)
        Path kfull = dir.resolve("full.npy");
        Path kp = dir.resolve("pntk.npy");
        CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--dtype", "f64",
                "--kind", "full", "--method", "vp", "--out", kfull.toString(), "--quiet");
        CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--dtype", "f64",
                "--kind", "pntk", "--out", kp.toString(), "--quiet");
        double[] f = CliRuns.values(kfull);
        double[] expected = new double[25];
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 5; j++) {
                for (int a = 0; a < 2; a++) {
                    for (int b = 0; b < 2; b++) {
                        expected[5 * i + j] += f[((i * 5 + j) * 2 + a) * 2 + b] / 2;
                    }
                }
            }
        }
        OnnxFiles.assertClose(CliRuns.values(kp), expected, 1e-12);
    }

    /**
     * An ONNX file replaced in place between a killed run and its --resume, with the same parameters and another
     * graph (Sigmoid for Tanh), is another kernel: the resume is refused naming the model, never continued with tiles
     * of both (before 2026-12-07 the fingerprint hashed the spec, the file's name, and the resume wrote a file 37%
     * off); with the file as it was, the resume continues and equals a fresh run byte for byte.
     */
    @Test
    void aResumeRefusesAnOnnxFileChangedInPlace() throws Exception {
        Path model = OnnxFiles.mlp(dir.resolve("m.onnx"));
        Path k = dir.resolve("k.npy");
        String[] args = {"kernel", "--model", model.toString(), "--data", "synthetic:40,4", "--dtype", "f64",
            "--kind", "full", "--tile", "16", "--out", k.toString(), "--quiet"};
        System.setProperty(OutputSafetyTest.DISK_FULL, "k.npy.partial@1"); // the second tile's write faults
        try {
            CliRuns.run(2, args);
        } finally {
            System.clearProperty(OutputSafetyTest.DISK_FULL);
        }
        assertThat(dir.resolve("k.npy.manifest")).exists();
        OnnxFiles.mlp(model, "Sigmoid");
        String[] resume = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.stream.Stream.of(
                "--resume")).toArray(String[]::new);
        String[] r = CliRuns.run(2, resume);
        assertThat(r[1].trim()).startsWith("ntk4j: --resume: " + dir.resolve("k.npy.manifest") + " was written for "
                + "another run: its fingerprint is ").endsWith("(the model differs)").doesNotContain("\n");
        assertThat(k).doesNotExist();
        // the Sigmoid graph's kernel is another kernel indeed
        Path sigmoid = dir.resolve("sigmoid.npy");
        CliRuns.run(0, "kernel", "--model", model.toString(), "--data", "synthetic:40,4", "--dtype", "f64",
                "--kind", "full", "--tile", "16", "--out", sigmoid.toString(), "--quiet");

        OnnxFiles.mlp(model);
        CliRuns.run(0, resume);
        Path fresh = dir.resolve("fresh.npy");
        CliRuns.run(0, "kernel", "--model", model.toString(), "--data", "synthetic:40,4", "--dtype", "f64",
                "--kind", "full", "--tile", "16", "--out", fresh.toString(), "--quiet");
        assertThat(Files.readAllBytes(k)).isEqualTo(Files.readAllBytes(fresh));
        double[] tanh = CliRuns.values(k);
        double[] other = CliRuns.values(sigmoid);
        double largest = 0;
        for (int i = 0; i < tanh.length; i++) {
            largest = Math.max(largest, Math.abs(tanh[i] - other[i]));
        }
        assertThat(largest).isGreaterThan(1e-2);
    }

    @Test
    void paramsOutWritesTheOnnxNamesAndParamsInReplacesThem() throws Exception {
        Path model = OnnxFiles.mlp(dir.resolve("mlp.onnx"));
        Path x = data();
        Path written = dir.resolve("p.npz");
        CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--dtype", "f64",
                "--params-out", written.toString(), "--out", dir.resolve("k0.npy").toString(), "--quiet");
        Map<String, Tensor> p = Npz.readTensors(written, DType.F64);
        try {
            assertThat(List.copyOf(p.keySet())).containsExactly("W1", "b1", "W2", "b2");
            for (int i = 0; i < OnnxFiles.W2.length; i++) {
                assertThat(p.get("W2").getFlat(i)).isEqualTo(OnnxFiles.W2[i]);
            }
            // W2 doubled, read back: the kernel is the library's with those weights, not the stored ones
            Map<String, Tensor> changed = new LinkedHashMap<>(p);
            double[] w2 = new double[OnnxFiles.W2.length];
            for (int i = 0; i < w2.length; i++) {
                w2[i] = 2 * OnnxFiles.W2[i];
            }
            changed.put("W2", Tensor.of(w2, 2, 3));
            Path in = dir.resolve("in.npz");
            Npz.write(in, changed);
            Path k = dir.resolve("k.npy");
            CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--dtype", "f64",
                    "--params-in", in.toString(), "--out", k.toString(), "--quiet");
            OnnxModel onnx = OnnxModel.load(model);
            double[] expected = library(onnx, new Params(new LinkedHashMap<>(changed)));
            OnnxFiles.assertClose(CliRuns.values(k), expected, 1e-12);
            assertThat(Math.abs(CliRuns.values(k)[0] - CliRuns.values(dir.resolve("k0.npy"))[0])).isGreaterThan(1e-3);
            changed.get("W2").close();
            // a parameter of another shape: one line naming it
            Map<String, Tensor> bad = new LinkedHashMap<>(p);
            bad.put("W2", Tensor.of(w2, 3, 2));
            Path badFile = dir.resolve("bad.npz");
            Npz.write(badFile, bad);
            String err = oneLine(CliRuns.run(2, "kernel", "--model", model.toString(), "--data", x.toString(),
                    "--params-in", badFile.toString())[1]);
            assertThat(err).contains("W2").contains("[2, 3]").contains("[3, 2]");
            Map<String, Tensor> renamed = new LinkedHashMap<>(p);
            renamed.put("fc2.weight", renamed.remove("W2"));
            Npz.write(badFile, renamed);
            err = oneLine(CliRuns.run(2, "kernel", "--model", model.toString(), "--data", x.toString(),
                    "--params-in", badFile.toString(), "--overwrite")[1]);
            assertThat(err).contains("W2");
        } finally {
            for (Tensor t : p.values()) {
                t.close();
            }
        }
    }

    @Test
    void explainListsTheParametersAndHowStructuredDerivativesTreatThem() throws Exception {
        Path model = OnnxFiles.mlp(dir.resolve("mlp.onnx"));
        String out = CliRuns.run(0, "explain", "--model", model.toString(), "--n", "8")[0];
        assertThat(out).contains("x1 8 × [4]").contains("input 'x' [4], output 'y' [2]")
                .contains("4 parameter tensors, 23 scalars");
        assertThat(out).containsPattern("W1 +\\[3, 4\\] +12 +structured").containsPattern("b2 +\\[2\\] +2 +structured");
        String frozen = CliRuns.run(0, "explain", "--model", model.toString(), "--freeze", "^W", "--n", "8")[0];
        assertThat(frozen).contains("2 parameter tensors, 5 scalars (of 4 weight initializers)")
                .doesNotContainPattern("W1 +\\[");
        // a scale through exp has no structured rule: the dense fallback, named per parameter
        Path scaled = OnnxFiles.scaled(dir.resolve("scaled.onnx"));
        String mixed = CliRuns.run(0, "explain", "--model", scaled.toString(), "--n", "8")[0];
        assertThat(mixed).contains("structured derivatives: 2 structured, 1 by per-example rows (dense fallback)")
                .containsPattern("\\n  s +\\[4\\] +4 +dense\\n")
                .containsPattern("\\n  W +\\[2, 4\\] +8 +structured\\n")
                .containsPattern("\\n  b +\\[2\\] +2 +structured\\n");
    }

    /**
     * train and study build a zoo model from its spec: an ONNX file there is refused in one line naming --model and
     * the commands that take one, before any data is read (the zoo's parser said "'m.onnx' is not a model name",
     * naming neither the option nor the reason, although the file exists), and so is a file that does not exist yet
     * but ends in .onnx, and an onnx: spec.
     */
    @Test
    void trainRefusesAnOnnxModelNamingTheOptionAndStudyItsWidths() throws Exception {
        Path model = OnnxFiles.mlp(dir.resolve("m.onnx"));
        String tail = " (see 'ntk4j models'), not a model file such as an ONNX export; kernel, explain, predict, "
                + "spectrum, approx and study take one";
        String[] train = CliRuns.run(2, "train", "--model", model.toString(), "--train", "synthetic:8,4",
                "--epochs", "1", "--quiet");
        assertThat(train[0]).isEmpty();
        assertThat(train[1]).isEqualTo("ntk4j: --model " + model + ": train initialises and trains a zoo model "
                + "from its spec" + tail + System.lineSeparator());
        // study takes an ONNX model's checkpoints (study.md), but not --widths, which varies a zoo model's width
        String[] study = CliRuns.run(2, "study", "--model", model.toString(), "--widths", "8",
                "--checkpoints", dir.resolve("ck/epoch-{epoch}.npz").toString());
        assertThat(study[1]).startsWith("ntk4j: --widths: varies a zoo model's width; an ONNX model has one");
        String missing = dir.resolve("absent.onnx").toString();
        assertThat(CliRuns.run(2, "train", "--model", missing)[1]).startsWith("ntk4j: --model " + missing
                + ": train initialises");
        // a zoo spec still reaches the zoo's parser, whose message names the model
        assertThat(CliRuns.run(2, "train", "--model", "mlp")[1]).startsWith("ntk4j: unknown model 'mlp'");
    }

    @Test
    void predictSpectrumAndApproxTakeAnOnnxModel() throws Exception {
        Path model = OnnxFiles.mlp(dir.resolve("mlp.onnx"));
        Path x = data();
        Path y = dir.resolve("y.npy");
        try (Tensor labels = Tensor.of(new double[] {0, 1, 1, 0, 1}, 5)) {
            Npy.write(y, labels);
        }
        String src = x + ":labels=" + y;
        String out = CliRuns.run(0, "predict", "--model", model.toString(), "--train", src, "--test", src,
                "--dtype", "f64")[0];
        assertThat(out).contains("23 parameters");
        // test examples that do not fit
        assertThat(oneLine(CliRuns.run(2, "predict", "--model", model.toString(), "--train", src, "--test",
                "synthetic:3,3")[1])).startsWith("ntk4j: --test: ").contains("[4]");
        out = CliRuns.run(0, "spectrum", "--model", model.toString(), "--data", src, "--standardize", "none")[0];
        assertThat(out).contains("of onnx:" + model);
        out = CliRuns.run(0, "approx", "--model", model.toString(), "--data", x.toString(), "--n", "3",
                "--kinds", "pntk,trace")[0];
        assertThat(out).contains("pntk");
        assertThat(oneLine(CliRuns.run(2, "approx", "--model", model.toString(), "--data", x.toString(), "--n", "3",
                "--widths", "8,16")[1])).startsWith("ntk4j: --widths: ");
        // a kernel file is read as it is: the model's options do not apply
        Path k = dir.resolve("k.npy");
        CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--out", k.toString(), "--quiet");
        assertThat(oneLine(CliRuns.run(2, "spectrum", k.toString(), "--freeze", "W1")[1]))
                .startsWith("ntk4j: --freeze: applies only when spectrum computes the kernel");
    }

    @Test
    void badFilesAndOptionsAreOneLineWithExitCode2() throws Exception {
        Path x = data();
        Path mlp = OnnxFiles.mlp(dir.resolve("mlp.onnx"));
        Path truncated = dir.resolve("truncated.onnx");
        Files.write(truncated, java.util.Arrays.copyOf(Files.readAllBytes(mlp), 60));
        Path text = dir.resolve("text.onnx");
        Files.writeString(text, "this is not a model\n");
        assertThat(error("--model", truncated.toString(), "--data", x.toString())).contains(truncated.toString())
                .contains("not a valid ONNX file");
        assertThat(error("--model", text.toString(), "--data", x.toString())).contains("not a valid ONNX file");
        assertThat(error("--model", dir.resolve("missing.onnx").toString(), "--data", x.toString()))
                .contains("not found");
        Path unsupported = OnnxFiles.unsupported(dir.resolve("hardmax.onnx"));
        assertThat(error("--model", unsupported.toString(), "--data", x.toString()))
                .contains("unsupported operator Hardmax").contains("'pick'").contains("Gemm");
        Path dynamic = OnnxFiles.dynamicFeatures(dir.resolve("dynamic.onnx"));
        assertThat(error("--model", dynamic.toString(), "--data", x.toString())).contains("'x'").contains("axis 1")
                .contains("--input-shape");
        CliRuns.run(0, "kernel", "--model", dynamic.toString(), "--data", x.toString(), "--input-shape", "x:4");
        Path two = OnnxFiles.twoOutputs(dir.resolve("two.onnx"));
        assertThat(error("--model", two.toString(), "--data", x.toString())).contains("2 outputs")
                .contains("--output");
        CliRuns.run(0, "kernel", "--model", two.toString(), "--data", x.toString(), "--output", "z");
        assertThat(error("--model", mlp.toString(), "--data", "synthetic:3,3")).isEqualTo("ntk4j: --data: the "
                + "model's input 'x' takes examples of shape [4] (its own layout: NCHW for PyTorch exports, NHWC for "
                + "Keras and JAX ones), got [3]");
        // images of 2 × 2 = 4 values are the flat input, read row-major
        CliRuns.run(0, "kernel", "--model", mlp.toString(), "--data", "synthetic:3,2,2");
        assertThat(error("--model", mlp.toString(), "--data", x.toString(), "--freeze", "nothing"))
                .contains("matches none of the parameters [W1, b1, W2, b2]");
        assertThat(error("--model", mlp.toString(), "--data", x.toString(), "--input-shape", "y:4"))
                .isEqualTo("ntk4j: --input-shape: the model's input is 'x', not 'y'");
        assertThat(error("--model", "fcn(depth=2)", "--data", x.toString(), "--freeze", "W"))
                .startsWith("ntk4j: --freeze: only for an ONNX model");
        assertThat(error("--model", mlp.toString(), "--data", x.toString(), "--ensemble", "2"))
                .startsWith("ntk4j: --ensemble: ");
        assertThat(error("--model", mlp.toString(), "--data", x.toString(), "--infinite"))
                .startsWith("ntk4j: --infinite: ");
    }

    /**
     * A model with two inputs reads --data (and --x2) from an .npz with one array per input name: the kernel equals
     * the library's on the inputs packed; a missing or extra array, another N, another per-example shape, or a .npy
     * is refused in one line naming the input; explain lists both inputs.
     */
    @Test
    void aModelWithTwoInputsReadsAnNpzOfOneArrayPerInputAndRefusesOtherDataInOneLine() throws Exception {
        Path model = OnnxFiles.twoInputs(dir.resolve("two.onnx"));
        double[] a = {1, 0.5, -1, 2, 0, 1, 1.5, -0.5, -2, 1, 0, 0.25, 0.5, -1.5, 1};
        double[] b = {3, 0, -1, 0.5, 0.25, 2, -0.5, 1, 1.5, -2};
        Path xz = dir.resolve("x.npz");
        Path k = dir.resolve("k.npy");
        Path kx2 = dir.resolve("kx2.npy");
        try (Tensor ta = Tensor.of(a, 5, 3); Tensor tb = Tensor.of(b, 5, 1, 2)) {
            Map<String, Tensor> arrays = new LinkedHashMap<>();
            arrays.put("b", tb); // the archive's order is not the graph's
            arrays.put("a", ta);
            Npz.write(xz, arrays);
            CliRuns.run(0, "kernel", "--model", model.toString(), "--data", xz.toString(), "--dtype", "f64",
                    "--out", k.toString(), "--quiet");
            CliRuns.run(0, "kernel", "--model", model.toString(), "--data", xz.toString(), "--x2", xz + ":3",
                    "--dtype", "f64", "--out", kx2.toString(), "--quiet");
            OnnxModel onnx = OnnxModel.load(model);
            assertThat(onnx.inputNames()).containsExactly("a", "b");
            try (Params p = onnx.params(DType.F64); Tensor x = onnx.pack(Map.of("a", ta, "b", tb));
                 Tensor expected = EmpiricalNtk.of(onnx.model(), p).ntk(x, null)) {
                double[] e = expected.toDoubleArray();
                OnnxFiles.assertClose(CliRuns.values(k), e, 1e-12);
                double[] firstThree = new double[15];
                for (int i = 0; i < 5; i++) {
                    System.arraycopy(e, 5 * i, firstThree, 3 * i, 3);
                }
                OnnxFiles.assertClose(CliRuns.values(kx2), firstThree, 1e-12);
            }
            Path missing = dir.resolve("missing.npz");
            Npz.write(missing, Map.of("a", ta));
            assertThat(error("--model", model.toString(), "--data", missing.toString())).isEqualTo("ntk4j: --data: "
                    + missing + " has no array 'b' for the model's input 'b' (it holds a); the model's inputs are "
                    + "[a, b]");
            Path extra = dir.resolve("extra.npz");
            Npz.write(extra, Map.of("a", ta, "b", tb, "c", ta));
            assertThat(error("--model", model.toString(), "--data", extra.toString())).isEqualTo("ntk4j: --data: "
                    + extra + " holds an array 'c' that is not one of the model's inputs [a, b] (nor the labels, 'y')");
            try (Tensor shortB = Tensor.of(java.util.Arrays.copyOf(b, 8), 4, 1, 2);
                 Tensor flatB = Tensor.of(b, 5, 2)) {
                Path fewer = dir.resolve("fewer.npz");
                Npz.write(fewer, Map.of("a", ta, "b", shortB));
                assertThat(error("--model", model.toString(), "--data", fewer.toString())).isEqualTo("ntk4j: --data: "
                        + "array 'b' of " + fewer + " has 4 examples, array 'a' has 5; every input needs one row per "
                        + "example");
                Path flat = dir.resolve("flat.npz");
                Npz.write(flat, Map.of("a", ta, "b", flatB));
                assertThat(error("--model", model.toString(), "--data", flat.toString())).isEqualTo("ntk4j: --data: "
                        + "the model's input 'b' takes examples of shape [1, 2], array 'b' of " + flat + " has shape "
                        + "[5, 2] (examples of shape [2])");
            }
            Path npy = dir.resolve("a.npy");
            Npy.write(npy, ta);
            assertThat(error("--model", model.toString(), "--data", npy.toString())).isEqualTo("ntk4j: --data: the "
                    + "model has 2 inputs [a, b]; give them as an .npz archive with one array per input name "
                    + "(np.savez(\"x.npz\", a=..., b=...)), got '" + npy + "'");
        }
        assertThat(error("--model", model.toString(), "--data", xz.toString(), "--input-shape", "1,2"))
                .isEqualTo("ntk4j: --model " + model.toAbsolutePath() + ": the model has 2 inputs [a, b]; give each "
                        + "input's shape by name (--input-shape)");
        CliRuns.run(0, "kernel", "--model", model.toString(), "--data", xz.toString(), "--input-shape", "b:1,2",
                "--input-shape", "a:3", "--quiet");
        String explained = CliRuns.run(0, "explain", "--model", model.toString(), "--n", "4")[0];
        assertThat(explained).contains("inputs 'a' [3], 'b' [1, 2] (packed per example: [5])");
    }

    @Test
    void imagesEqualToTheInputUpToAxesOfSizeOneAreTakenAndOtherLayoutsRefusedWithTheTranspose() throws Exception {
        // one channel: [N, 5, 4, 1] (NHWC, as the embedded Fashion-MNIST) and [N, 5, 4] hold the values of the
        // model's [N, 1, 5, 4] in its order (before 2026-12-07 both were refused)
        Path model = OnnxFiles.image(dir.resolve("grey.onnx"), 1, 5, 4);
        double[] v = new double[3 * 20];
        for (int i = 0; i < v.length; i++) {
            v[i] = (i % 11 - 5) * 0.5;
        }
        double[] expected = new double[9];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                double s = 1;
                for (int d = 0; d < 20; d++) {
                    s += v[20 * i + d] * v[20 * j + d];
                }
                expected[3 * i + j] = s;
            }
        }
        for (int[] shape : new int[][] {{3, 1, 5, 4}, {3, 5, 4, 1}, {3, 5, 4}}) {
            Path x = dir.resolve("x" + shape.length + shape[1] + ".npy");
            Path k = dir.resolve("k.npy");
            try (Tensor t = Tensor.of(v, shape)) {
                Npy.write(x, t);
            }
            CliRuns.run(0, "kernel", "--model", model.toString(), "--data", x.toString(), "--dtype", "f64",
                    "--out", k.toString(), "--overwrite", "--quiet");
            try (Tensor kernel = Npy.readTensor(k)) {
                OnnxFiles.assertClose(kernel.toDoubleArray(), expected, 1e-15);
            }
        }
        // [N, 4, 5, 1] is another order of the values: refused, as is NHWC colour for an NCHW input and back
        Path wrongOrder = dir.resolve("t.npy");
        try (Tensor t = Tensor.of(v, 3, 4, 5, 1)) {
            Npy.write(wrongOrder, t);
        }
        assertThat(error("--model", model.toString(), "--data", wrongOrder.toString())).isEqualTo("ntk4j: --data: "
                + "the model's input 'x' takes examples of shape [1, 5, 4] (its own layout: NCHW for PyTorch exports, "
                + "NHWC for Keras and JAX ones), got [4, 5, 1]");
        Path rgb = OnnxFiles.image(dir.resolve("rgb.onnx"), 3, 4, 5);
        assertThat(error("--model", rgb.toString(), "--data", "synthetic:2,4,5,3")).isEqualTo("ntk4j: --data: the "
                + "model's input 'x' takes examples of shape [3, 4, 5] (its own layout: NCHW for PyTorch exports, NHWC "
                + "for Keras and JAX ones), got [4, 5, 3]; the data is channels-last (NHWC): save it channels-first, "
                + "x.transpose(0, 3, 1, 2)");
        Path nhwcModel = OnnxFiles.image(dir.resolve("nhwc.onnx"), 4, 5, 3);
        assertThat(error("--model", nhwcModel.toString(), "--data", "synthetic:2,3,4,5")).endsWith("got [3, 4, 5]; "
                + "the data is channels-first (NCHW): save it channels-last, x.transpose(0, 2, 3, 1)");
    }

    private static String error(String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "kernel";
        System.arraycopy(args, 0, all, 1, args.length);
        return oneLine(CliRuns.run(2, all)[1]);
    }

    /** stderr, checked to be one line without a stack trace. */
    private static String oneLine(String err) {
        String line = err.strip();
        assertThat(line).as(err).doesNotContain("\n").doesNotContain("Exception").startsWith("ntk4j: ");
        return line;
    }
}
