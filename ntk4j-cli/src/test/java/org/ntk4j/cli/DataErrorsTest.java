package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.io.NpyArray;
import org.ntk4j.io.NpyDType;
import org.ntk4j.io.Npz;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Data on the command line: the embedded default, layouts for the model, and every user mistake of the data
 * issue giving one line, exit code 2 and no stack trace unless {@code --debug}.
 */
class DataErrorsTest {
    private static final String SMALL_FCN = "fcn(depth=1,width=16,out=10)";

    @TempDir
    Path dir;


    /** The one-line error of a failing run: exit code 2, "ntk4j: ..." on one line, no stack trace. */
    private static String oneLineError(String... args) {
        String err = run(2, args)[1];
        assertThat(err).startsWith("ntk4j: ").doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(err.strip().lines().count()).as("one line: %s", err).isEqualTo(1);
        return err.strip();
    }

    @Test
    void kernelWithoutDataUsesTheEmbeddedFashionMnist() {
        String out = run(0, "kernel", "--model", SMALL_FCN)[0];
        assertThat(out).contains("x1 [500, 28, 28, 1] (x2 = x1)").contains("kernel [500, 500]");
        String cnn = run(0, "kernel", "--model", "cnn(depth=1,channels=2)", "--data", "default:test:3")[0];
        assertThat(cnn).contains("x1 [3, 28, 28, 1]").contains("kernel [3, 3]");
    }

    @Test
    void standardizeFitsOnDataAndAppliesToBoth() throws Exception {
        Path plain = dir.resolve("plain.npy");
        Path std = dir.resolve("std.npy");
        Path manual = dir.resolve("manual.npy");
        Path manual2 = dir.resolve("manual2.npy");
        // x1 = [[1, 3], [5, 7]] (mean 4, population std √5); x2 = [[4, 4 + √5]] standardises to [[0, 1]].
        try (Tensor x1 = Tensor.of(new double[] {1, 3, 5, 7}, 2, 2);
             Tensor x2 = Tensor.of(new double[] {4, 4 + Math.sqrt(5)}, 1, 2);
             Tensor m1 = Tensor.of(new double[] {-3 / Math.sqrt(5), -1 / Math.sqrt(5), 1 / Math.sqrt(5),
                 3 / Math.sqrt(5)}, 2, 2);
             Tensor m2 = Tensor.of(new double[] {0, 1}, 1, 2)) {
            Npy.write(plain, x1);
            Npy.write(dir.resolve("x2.npy"), x2);
            Npy.write(manual, m1);
            Npy.write(manual2, m2);
        }
        String[] common = {"kernel", "--model", SMALL_FCN, "--dtype", "f64", "--x2", dir.resolve("x2.npy").toString()};
        run(0, concat(common, "--data", plain.toString(), "--standardize", "global", "--out", std.toString()));
        Path expected = dir.resolve("expected.npy");
        run(0, "kernel", "--model", SMALL_FCN, "--dtype", "f64", "--data", manual.toString(), "--x2",
                manual2.toString(), "--out", expected.toString());
        try (Tensor a = Npy.readTensor(std); Tensor b = Npy.readTensor(expected)) {
            assertThat(a.shape()).containsExactly(2, 1);
            for (int i = 0; i < a.size(); i++) {
                assertThat(a.getFlat(i)).isCloseTo(b.getFlat(i), org.assertj.core.api.Assertions.within(1e-12));
            }
        }
        assertThat(oneLineError(concat(common, "--data", plain.toString(), "--standardize", "zscore")))
                .isEqualTo("ntk4j: --standardize: expected global, per-feature or none, got 'zscore'");
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void flatCsvRowsBecomeSquareImagesForAConvolutionalModel() throws Exception {
        Path csv = dir.resolve("flat.csv");
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < 16; j++) {
            sb.append(j == 0 ? "" : ",").append("p").append(j);
        }
        sb.append(",label\n");
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 16; j++) {
                sb.append(j == 0 ? "" : ",").append((i * 16 + j) % 7 * 0.1);
            }
            sb.append(",").append(i).append('\n');
        }
        Files.writeString(csv, sb.toString());
        assertThat(run(0, "kernel", "--model", "cnn(depth=1,channels=2)", "--data", csv.toString())[0])
                .contains("x1 [3, 4, 4, 1]");
        assertThat(run(0, "kernel", "--model", SMALL_FCN, "--data", csv.toString())[0]).contains("x1 [3, 16]");
    }

    @Test
    void missingFile() {
        Path missing = dir.resolve("missing.npy");
        assertThat(oneLineError("kernel", "--data", missing.toString()))
                .isEqualTo("ntk4j: --data '" + missing + "': file not found: " + missing);
        assertThat(oneLineError("kernel", "--model", SMALL_FCN, "--x2", dir.resolve("b.csv").toString()))
                .endsWith("file not found: " + dir.resolve("b.csv"));
    }

    @Test
    void missingParameterFileAndOutputDirectory() {
        Path params = dir.resolve("nowhere.npz");
        assertThat(oneLineError("kernel", "--data", "synthetic:2,3", "--params-in", params.toString()))
                .isEqualTo("ntk4j: --params-in: file not found: " + params);
        Path out = dir.resolve("no-such-dir").resolve("k.npy");
        assertThat(oneLineError("kernel", "--data", "synthetic:2,3", "--model", SMALL_FCN, "--out", out.toString()))
                .isEqualTo("ntk4j: --out " + out + ": directory " + out.getParent() + " does not exist");
    }

    @Test
    void unknownSource() {
        assertThat(oneLineError("kernel", "--data", "mnist:train"))
                .startsWith("ntk4j: --data 'mnist:train': unknown source 'mnist'; expected "
                        + "default:train|test[:N]");
        assertThat(oneLineError("kernel", "--data", "default:validation"))
                .startsWith("ntk4j: --data 'default:validation': expected default:train[:N] or default:test[:N]");
    }

    @Test
    void shapeMismatchBetweenDataAndModel() throws Exception {
        // the refusal names the option whose data fits not (it named none in kernel, approx, convergence)
        String fitsNot = ": shape mismatch: data examples of shape [5] do not fit model cnn(depth=1,channels=2)"
                + " (tried [5]): to_image: expects per-example inputs [H, W] or [H, W, C], got [5]";
        assertThat(oneLineError("kernel", "--model", "cnn(depth=1,channels=2)", "--data", "synthetic:2,5"))
                .isEqualTo("ntk4j: --data" + fitsNot);
        assertThat(oneLineError("approx", "--model", "cnn(depth=1,channels=2)", "--data", "synthetic:6,5", "--n",
                "3")).isEqualTo("ntk4j: --data" + fitsNot);
        assertThat(oneLineError("convergence", "--model", "cnn(depth=1,channels=2)", "--data", "synthetic:2,5",
                "--widths", "2,4")).isEqualTo("ntk4j: --data" + fitsNot);
        assertThat(oneLineError("train", "--model", "cnn(depth=1,channels=2)", "--train", "synthetic:2,5", "--test",
                "none", "--epochs", "1")).isEqualTo("ntk4j: --train: synthetic:2,5" + fitsNot);
        assertThat(oneLineError("kernel", "--model", SMALL_FCN, "--data", "synthetic:2,5", "--x2", "synthetic:2,6"))
                .isEqualTo("ntk4j: --x2: examples of shape [6] do not match the --data examples [5]");
        // per-feature standardisation fitted on --data met --x2 first and named neither option
        assertThat(oneLineError("kernel", "--model", SMALL_FCN, "--data", "synthetic:2,5", "--x2", "synthetic:2,6",
                "--standardize", "per-feature"))
                .isEqualTo("ntk4j: --x2: examples of shape [6] do not match the --data examples [5]");
        // Parameters saved for 28×28 inputs do not fit 5-feature data.
        Path params = dir.resolve("p.npz");
        run(0, "kernel", "--model", SMALL_FCN, "--data", "default:train:2", "--params-out", params.toString());
        assertThat(oneLineError("kernel", "--model", SMALL_FCN, "--data", "synthetic:2,5", "--params-in",
                params.toString())).contains("must have shape [5, 16], has [784, 16]");
    }

    @Test
    void nonFiniteDataOrParameters() throws Exception {
        Path nan = dir.resolve("nan.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3, Double.NaN}, 2, 2)) {
            Npy.write(nan, t);
        }
        assertThat(oneLineError("kernel", "--data", nan.toString()))
                .isEqualTo("ntk4j: --data: " + nan + ": contains NaN at flat index 3 (example 1)");
        Path inf = dir.resolve("inf.csv");
        Files.writeString(inf, "a,b\n1,-Infinity\n");
        assertThat(oneLineError("kernel", "--data", inf.toString()))
                .isEqualTo("ntk4j: --data: " + inf + ": line 2, column 2 (b): '-Infinity' is -Infinity; the inputs "
                        + "must be finite numbers (drop or impute the missing values)");
        Path params = dir.resolve("p.npz");
        run(0, "kernel", "--model", SMALL_FCN, "--data", "synthetic:2,3", "--params-out", params.toString());
        Map<String, Tensor> tensors = Npz.readTensors(params, DType.F32);
        Map<String, Tensor> broken = new LinkedHashMap<>(tensors);
        String first = broken.keySet().iterator().next();
        broken.get(first).setFlat(2, Double.POSITIVE_INFINITY);
        Npz.write(params, broken);
        tensors.values().forEach(Tensor::close);
        assertThat(oneLineError("kernel", "--model", SMALL_FCN, "--data", "synthetic:2,3", "--params-in",
                params.toString())).contains("'" + first + "' has a non-finite value (Infinity) at flat index 2");
    }

    @Test
    void labelsOutOfRange() throws Exception {
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3}, 3, 1)) {
            Npy.write(x, t);
        }
        Path labels = dir.resolve("y.npy");
        Npy.write(labels, NpyArray.ofLongs(NpyDType.INT64, new long[] {0, 1, -3}, 3));
        assertThat(oneLineError("kernel", "--data", x + ":labels=" + labels))
                .endsWith("label -3 of example 2 in " + labels + " is negative; labels are class indices 0, 1, ...");
        Path csv = dir.resolve("l.csv");
        Files.writeString(csv, "a,label\n1,0\n2,1.5\n");
        assertThat(oneLineError("kernel", "--data", csv.toString()))
                .isEqualTo("ntk4j: --data: " + csv + ": line 3, column 2 (label), the label column: '1.5' is not a "
                        + "whole number; labels are class indices 0, 1, ...");
    }

    /**
     * A label of 2e9 (an id, not a class) is refused by every command that reads labels, in one line naming the
     * option, the example and the value: spectrum --labels took it to order its heatmap, and its max + 1 was the
     * class count. The bound, 2^24, is the loader's, so every command has it; predict, train and study then need
     * labels below the model's outputs.
     */
    @Test
    void labelsBeyondAnyClassCountAreRefusedNamingTheOption() throws Exception {
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3}, 3, 1)) {
            Npy.write(x, t);
        }
        Path k = dir.resolve("k.npy");
        try (Tensor t = Tensor.of(new double[] {2, 0, 0, 0, 2, 0, 0, 0, 2}, 3, 3)) {
            Npy.write(k, t);
        }
        Path y = dir.resolve("y.npy");
        Npy.write(y, NpyArray.ofDoubles(NpyDType.FLOAT32, new double[] {0, 2e9, 1}, 3));
        String source = x + ":labels=" + y;
        String refusal = "'" + source + "': label 2000000000 of example 1 in " + y + " is 2^24 = 16777216 or more, "
                + "beyond any class count ntk4j takes (not class indices?); labels are class indices 0, 1, ...";
        assertThat(oneLineError("spectrum", k.toString(), "--labels", source)).isEqualTo("ntk4j: --labels " + refusal);
        assertThat(oneLineError("spectrum", "--model", SMALL_FCN, "--data", source))
                .isEqualTo("ntk4j: --data " + refusal);
        assertThat(oneLineError("predict", "--model", SMALL_FCN, "--train", source, "--test", x.toString()))
                .isEqualTo("ntk4j: --train " + refusal);
        assertThat(oneLineError("train", "--model", SMALL_FCN, "--train", source, "--epochs", "1"))
                .isEqualTo("ntk4j: --train " + refusal);
        Path epoch0 = dir.resolve("epoch-0.npz");
        run(0, "kernel", "--model", SMALL_FCN, "--data", "synthetic:2,1", "--params-out", epoch0.toString());
        Files.copy(epoch0, dir.resolve("epoch-1.npz"));
        assertThat(oneLineError("study", "--model", SMALL_FCN, "--widths", "16", "--sample", source, "--checkpoints",
                dir.resolve("epoch-*.npz").toString())).isEqualTo("ntk4j: --sample " + refusal);
        Path csv = dir.resolve("l.csv");
        Files.writeString(csv, "a,label\n1,0\n2,2e9\n3,1\n");
        assertThat(oneLineError("spectrum", k.toString(), "--labels", csv.toString()))
                .isEqualTo("ntk4j: --labels: " + csv + ": line 3, column 2 (label), the label column: '2e9' is 2^24 = "
                        + "16777216 or more, beyond any class count ntk4j takes (not class indices?); labels are "
                        + "class indices 0, 1, ...");
        // the largest class index orders a heatmap; predict needs labels below its model's 10 outputs
        Npy.write(y, NpyArray.ofLongs(NpyDType.INT64, new long[] {0, 16_777_215, 1}, 3));
        run(0, "spectrum", k.toString(), "--labels", source, "--plots", dir.resolve("plots").toString());
        assertThat(oneLineError("predict", "--model", SMALL_FCN, "--train", source, "--test", x.toString()))
                .isEqualTo("ntk4j: --train '" + source + "': label 16777215 of example 1 is outside [0, 10) for "
                        + "predict with 10 model outputs");
        assertThat(oneLineError("study", "--model", SMALL_FCN, "--widths", "16", "--sample", source, "--checkpoints",
                dir.resolve("epoch-*.npz").toString())).isEqualTo("ntk4j: --sample '" + source + "': label 16777215 of "
                + "example 1 is outside [0, 10) for one-hot targets and the test accuracy of a model with 10 outputs");
    }

    @Test
    void truncatedAndMalformedFiles() throws Exception {
        Path npy = dir.resolve("t.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2)) {
            Npy.write(npy, t);
        }
        byte[] bytes = Files.readAllBytes(npy);
        Files.write(npy, java.util.Arrays.copyOf(bytes, bytes.length - 3));
        assertThat(oneLineError("kernel", "--data", npy.toString()))
                .startsWith("ntk4j: --data: " + npy + ": truncated .npy file");
        Path idx = dir.resolve("images-idx3-ubyte");
        Files.write(idx, new byte[] {0, 0, 8, 3, 0, 0, 0, 2});
        assertThat(oneLineError("kernel", "--data", idx.toString()))
                .startsWith("ntk4j: --data: " + idx + ": truncated IDX file");
        Path csv = dir.resolve("bad.csv");
        Files.writeString(csv, "a,b\n1,x\n");
        assertThat(oneLineError("kernel", "--data", csv.toString()))
                .isEqualTo("ntk4j: --data: " + csv + ": line 2, column 2 (b): 'x' is not a number");
    }

    @Test
    void debugFlagAddsTheStackTrace() {
        String err = run(2, "kernel", "--data", "nowhere.npy", "--debug")[1];
        assertThat(err).startsWith("ntk4j: --data 'nowhere.npy': file not found: nowhere.npy")
                .contains("java.lang.IllegalArgumentException").contains("\tat org.ntk4j.io.DataSource");
        assertThat(run(2, "--debug", "kernel", "--data", "nowhere.npy")[1]).contains("\tat ");
    }
}
