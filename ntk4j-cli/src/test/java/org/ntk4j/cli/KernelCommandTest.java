package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class KernelCommandTest {
    @TempDir
    Path dir;


    /**
     * --data and --x2 of arrays NumPy saved in Fortran order (np.save(f, X.T) of a [5, 6] X: a [6, 5] file whose
     * first axis varies fastest), the x2 a prefix (:3), give the kernel of their C-order copies: the transpose on read
     * reaches the command.
     */
    @Test
    void fortranOrderDataGivesTheKernelOfItsCOrderCopy() throws Exception {
        double[] x = new double[30]; // C order [6, 5]
        for (int i = 0; i < x.length; i++) {
            x[i] = Math.sin(1.7 * i + 0.3);
        }
        java.nio.ByteBuffer data = java.nio.ByteBuffer.allocate(30 * 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int j = 0; j < 5; j++) {
            for (int i = 0; i < 6; i++) {
                data.putDouble(x[i * 5 + j]); // Fortran order: (i, j) at i + 6 j
            }
        }
        String dict = "{'descr': '<f8', 'fortran_order': True, 'shape': (6, 5), }";
        byte[] text = dict.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        int pad = (64 - (10 + text.length + 1) % 64) % 64;
        java.nio.ByteBuffer npy = java.nio.ByteBuffer.allocate(10 + text.length + 1 + pad + data.capacity())
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        npy.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) (text.length + 1 + pad))
                .put(text).put(" ".repeat(pad).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1))
                .put((byte) '\n').put(data.array());
        Path f = dir.resolve("xt.npy");
        Files.write(f, npy.array());
        Path c = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(x, 6, 5)) {
            Npy.write(c, t);
        }
        Path kf = dir.resolve("kf.npy");
        Path kc = dir.resolve("kc.npy");
        String[] common = {"kernel", "--model", "fcn(depth=1,width=16,out=2)", "--dtype", "f64", "--kind", "full",
            "--method", "jc"};
        run(0, concat(common, new String[] {"--data", f.toString(), "--x2", f + ":3", "--out", kf.toString()}));
        run(0, concat(common, new String[] {"--data", c.toString(), "--x2", c + ":3", "--out", kc.toString()}));
        try (Tensor a = Npy.readTensor(kf); Tensor b = Npy.readTensor(kc)) {
            assertThat(a.shape()).containsExactly(6, 3, 2, 2);
            for (int i = 0; i < b.size(); i++) {
                assertThat(a.getFlat(i)).as("element %d", i).isCloseTo(b.getFlat(i),
                        org.assertj.core.data.Offset.offset(1e-12 * (1 + Math.abs(b.getFlat(i)))));
            }
        }
    }

    @Test
    void defaultRunComputesATracedKernel() {
        String out = run(0, "kernel", "--data", "synthetic:8,6,6", "--model", "fcn(depth=1,width=32,out=10)")[0];
        assertThat(out).contains("method ").contains("kernel [8, 8]");
    }

    /**
     * neural-tangents' axis arguments on the command line: {@code --trace-axes none} is trace_axes=() (the full
     * kernel, as --kind full), with {@code --diagonal-axes 0} the [N, O, O] blocks of each example with itself;
     * axes out of range, repeated or both traced and diagonal are refused in one line naming the argument.
     */
    @Test
    void axisArgumentsFollowNeuralTangents() throws Exception {
        Path full = dir.resolve("full.npy");
        Path none = dir.resolve("none.npy");
        Path blocks = dir.resolve("blocks.npy");
        String[] common = {"kernel", "--model", "fcn(depth=1,width=8,out=3)", "--data", "synthetic:4,5", "--dtype",
            "f64", "--method", "jc"};
        run(0, concat(common, new String[] {"--kind", "full", "--out", full.toString()}));
        run(0, concat(common, new String[] {"--trace-axes", "none", "--out", none.toString()}));
        run(0, concat(common, new String[] {"--trace-axes", "NONE", "--diagonal-axes", "0", "--out",
            blocks.toString()}));
        try (Tensor f = Npy.readTensor(full); Tensor n = Npy.readTensor(none); Tensor b = Npy.readTensor(blocks)) {
            assertThat(n.shape()).containsExactly(4, 4, 3, 3);
            assertThat(n.toDoubleArray()).containsExactly(f.toDoubleArray());
            assertThat(b.shape()).containsExactly(4, 3, 3);
            for (int e = 0; e < 4; e++) {
                for (int o = 0; o < 9; o++) {
                    double want = f.getFlat((e * 4 + e) * 9 + o); // Θ(x_e, x_e)[o]
                    assertThat(b.getFlat(e * 9 + o)).isCloseTo(want,
                            org.assertj.core.data.Offset.offset(1e-12 * (1 + Math.abs(want))));
                }
            }
        }
        String[][] refused = {
            {"--trace-axes", "2",
                "--trace-axes [2]: axis 2 is out of range for f(x) of rank 2 (expected -2 <= axis < 2"},
            {"--diagonal-axes", "0,-2", "--diagonal-axes [0, -2]: 0 and -2 both name axis 0 of f(x) (rank 2)"},
            {"--trace-axes", "1", "--diagonal-axes", "-1",
                "--trace-axes [1] and --diagonal-axes [-1] both name axis 1"},
        };
        for (String[] r : refused) {
            String[] args = concat(common, java.util.Arrays.copyOf(r, r.length - 1));
            String err = run(2, args)[1];
            assertThat(err.strip()).startsWith("ntk4j: " + r[r.length - 1]);
            assertThat(err.strip().lines().count()).as(err).isEqualTo(1);
        }
    }

    /** The file the CLI writes equals the library's kernel for the same parameters, for every method. */
    @Test
    void writesTheKernelTheParametersAndAReport() throws Exception {
        Path k = dir.resolve("k.npy");
        Path p = dir.resolve("p.npz");
        Path r = dir.resolve("r.json");
        String spec = "cnn(depth=1,channels=3,out=4)";
        for (String m : new String[] {"jc", "vp", "sd"}) {
            run(0, "kernel", "--model", spec, "--data", "synthetic:5,4,4", "--x2", "synthetic:3,4,4",
                    "--method", m, "--kind", "full", "--dtype", "f64", "--seed", "3", "--out", k.toString(),
                    "--params-out", p.toString(), "--report", r.toString(), "--overwrite"); // one set of files
            Model model = Zoo.parse(spec);
            Params params = ParamsFile.load(p, model, new int[] {4, 4}, DType.F64);
            Tensor x1 = org.ntk4j.io.DataSource.load("synthetic:5,4,4", DType.F64, 3);
            Tensor x2 = org.ntk4j.io.DataSource.load("synthetic:3,4,4", DType.F64, 4);
            Tensor expected = EmpiricalNtk.of(model, params).traceAxes().method(Method.JACOBIAN_CONTRACTION)
                    .ntk(x1, x2);
            Tensor got = Npy.readTensor(k);
            assertThat(got.shape()).containsExactly(5, 3, 4, 4);
            for (int i = 0; i < got.size(); i++) {
                assertThat(got.getFlat(i)).isCloseTo(expected.getFlat(i),
                        org.assertj.core.data.Offset.offset(1e-10 * (1 + Math.abs(expected.getFlat(i)))));
            }
            String json = Files.readString(r);
            assertThat(json).contains("\"method\": \"" + m + "\"").contains("\"kernel_shape\": [5, 3, 4, 4]")
                    .contains("\"predicted_flops\"").contains("\"peak_bytes\"");
        }
    }

    /**
     * The report's flops_counted (what the executor counted while it ran) equals its predicted_flops, for each
     * method and kind; and on the issue's FCN (depth 3, width 2,048, 8 outputs, 16 inputs of 3,072) with AUTO.
     */
    @Test
    void reportedCountedFlopsEqualPredictedFlops() throws Exception {
        Path r = dir.resolve("counted.json");
        for (String m : new String[] {"jc", "vp", "sd"}) {
            for (String kind : new String[] {"full", "trace", "pntk"}) {
                run(0, "kernel", "--model", "fcn(depth=2,width=32,out=4)", "--data", "synthetic:6,5", "--kind", kind,
                        "--method", m, "--report", r.toString(), "--overwrite");
                assertCountedEqualsPredicted(Files.readString(r), m + " " + kind);
            }
        }
        run(0, "kernel", "--model", "fcn(depth=3,width=2048,out=8)", "--data", "synthetic:16,3072", "--kind",
                "full", "--report", r.toString(), "--overwrite");
        assertCountedEqualsPredicted(Files.readString(r), "the issue's fcn");
    }

    /**
     * projected:K in memory reports what it runs (jc rows, sketched) and stays within --memory, in example chunks:
     * it reported the trace kernel's method ("sd"), FLOPs and peak, and was not bounded (1.5 GiB under 100m).
     */
    @Test
    void projectedKernelInMemoryIsPricedAndBoundedByTheBudget() throws Exception {
        Path r = dir.resolve("projected.json");
        String[] model = {"--model", "fcn(depth=1,width=512,out=10)", "--data", "synthetic:40,30", "--kind",
            "projected:8", "--dtype", "f64"};
        // whole: the 40 examples' rows of the first weight and their copy, 2 × 40 × 10 × 30 × 512 × 8 B = 94 MiB
        String whole = run(0, kernelWith(model))[0];
        String out = run(0, kernelWith(model, "--memory", "20m", "--report", r.toString()))[0];
        assertThat(out).contains("method jc rows + sketch (auto)");
        String json = Files.readString(r);
        assertThat(json).contains("\"method\": \"jc\"");
        assertCountedEqualsPredicted(json, "projected:8 in chunks");
        long peak = field(json, "peak_bytes");
        long predicted = field(json, "predicted_peak_bytes");
        assertThat(peak).isLessThanOrEqualTo(20L << 20);
        assertThat(predicted).isLessThanOrEqualTo(20L << 20);
        assertThat((double) peak).isBetween(0.8 * predicted, 1.2 * predicted);
        // the same kernel (ProjectedInMemoryBudgetTest compares it entry by entry)
        assertThat(kernelLine(out)).isEqualTo(kernelLine(whole));
        assertThat(run(2, kernelWith(model, "--memory", "1m"))[1])
                .contains("memory budget: 1.0 MiB is too small for the projected:8 kernel of 40 × 40 examples")
                .contains("raise --memory to at least");
    }

    private static String kernelLine(String out) {
        return out.lines().filter(l -> l.startsWith("kernel [")).findFirst().orElse("no kernel line in " + out);
    }

    /** {@code kernel} with these options. */
    private static String[] kernelWith(String[] head, String... tail) {
        return concat(concat(new String[] {"kernel"}, head), tail);
    }

    private static long field(String json, String name) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + name + "\": ([0-9]+)").matcher(json);
        assertThat(m.find()).as(name + " in " + json).isTrue();
        return Long.parseLong(m.group(1));
    }

    private static void assertCountedEqualsPredicted(String json, String what) {
        java.util.regex.Matcher predicted = java.util.regex.Pattern.compile("\"predicted_flops\": ([0-9.eE+]+)")
                .matcher(json);
        java.util.regex.Matcher counted = java.util.regex.Pattern.compile("\"flops_counted\": ([0-9]+)")
                .matcher(json);
        assertThat(predicted.find() && counted.find()).as(what + ": both fields in " + json).isTrue();
        assertThat(Long.parseLong(counted.group(1))).as(what)
                .isEqualTo(Math.round(Double.parseDouble(predicted.group(1))));
    }

    @Test
    void approximationKindsRunFromTheCommandLine() throws Exception {
        Path r = dir.resolve("pntk.json");
        String out = run(0, "kernel", "--model", "fcn(depth=1,width=16,out=5)", "--data", "synthetic:6,4",
                "--kind", "pntk", "--report", r.toString())[0];
        assertThat(out).contains("kind pntk").contains("kernel [6, 6]");
        assertThat(Files.readString(r)).contains("\"kind\": \"pntk\"");
        assertThat(run(0, "kernel", "--model", "fcn(depth=1,width=16,out=5)", "--data", "synthetic:6,4",
                "--kind", "projected:64")[0]).contains("kind projected:64").contains("kernel [6, 6]");
        assertThat(run(0, "explain", "--model", "fcn(depth=1,width=16,out=5)", "--n", "6", "--input", "4",
                "--kind", "pntk")[0]).contains("then pntk");
        // projected:K runs none of the three methods: explain says so rather than let auto's choice stand for it
        assertThat(run(0, "explain", "--model", "fcn(depth=1,width=16,out=5)", "--n", "6", "--input", "4",
                "--kind", "projected:64")[0]).contains("kind projected:64: computed by none of these methods")
                .contains("K = 64 columns").contains("kind projected:64 in memory (kernel without --out): ")
                .contains("FLOPs, peak");
        assertThat(run(0, "explain", "--model", "fcn(depth=1,width=16,out=5)", "--n", "6", "--input", "4",
                "--kind", "trace")[0]).doesNotContain("computed by none of these methods");
    }

    @Test
    void approxReportsEveryKindAndItsJson() throws Exception {
        Path r = dir.resolve("approx.json");
        String out = run(0, "approx", "--model", "fcn(depth=1,width=32,out=4)", "--data", "synthetic:10,6", "--n", "7",
                "--report", r.toString())[0];
        assertThat(out).contains("| pntk |").contains("| trace |").contains("| logit:0 |").contains("| probes:4 |")
                .contains("| projected:1024 |");
        assertThat(Files.readString(r)).contains("\"pntk.relative_frobenius_error\"").contains("\"full.seconds\"");
        assertThat(run(2, "approx", "--data", "synthetic:5,6", "--n", "5")[1]).contains("--n: the data has 5 examples");
        assertThat(run(2, "approx", "--kinds", "full")[1]).contains("--kinds: full is not an N×N kind");
        // a kind named twice (in any spelling) would print two rows and overwrite its own JSON figures
        assertThat(run(2, "approx", "--kinds", "pntk,trace,PNTK")[1]).contains("--kinds: kind pntk is given twice");
    }

    /**
     * approx --report's figures are exact, so that they can be checked to round-off against the kernels: the pNTK's
     * relative Frobenius error ‖Θ − P ⊗ I_O‖_F / ‖Θ‖_F, recomputed here from the float64 full kernel that kernel
     * writes for the same model, seed and data (P = (1/O) Σ_km Θ_km of the first N inputs), agrees to 1e-13 (it was
     * written to 6 digits, off by up to 5e-7 relative). The report says whether the full kernel is singular: not
     * for this fcn (its 7·4 = 28 outputs against 356 parameters), but for fcn(depth=0,out=3) on 8 inputs of 2
     * features, whose eNTK (x·x' + 1) ⊗ I_3 has rank 9 of 24, where the λ_min and condition ratios are null.
     */
    @Test
    void approxReportFiguresAreExactAndSayWhetherTheFullKernelIsSingular() throws Exception {
        String model = "fcn(depth=1,width=32,out=4)";
        Path r = dir.resolve("approx.json");
        Path k = dir.resolve("full.npy");
        run(0, "approx", "--model", model, "--data", "synthetic:10,6", "--n", "7", "--kinds", "pntk,trace",
                "--report", r.toString());
        run(0, "kernel", "--model", model, "--data", "synthetic:10,6", "--kind", "full", "--dtype", "f64",
                "--out", k.toString(), "--quiet");
        double num = 0;
        double den = 0;
        int n = 7;
        int o = 4;
        try (Tensor full = Npy.readTensor(k)) {
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < n; b++) {
                    double p = 0;
                    for (int i = 0; i < o; i++) {
                        for (int j = 0; j < o; j++) {
                            p += full.get(a, b, i, j) / o;
                        }
                    }
                    for (int i = 0; i < o; i++) {
                        for (int j = 0; j < o; j++) {
                            double t = full.get(a, b, i, j);
                            double d = t - (i == j ? p : 0);
                            num += d * d;
                            den += t * t;
                        }
                    }
                }
            }
        }
        double expected = Math.sqrt(num / den);
        org.ntk4j.io.JsonReport json = org.ntk4j.io.JsonReport.read(r);
        assertThat(expected).isBetween(0.01, 1.0); // an error worth the name, not round-off
        assertThat((Double) json.get("pntk.relative_frobenius_error"))
                .isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-13 * expected));
        assertThat(json.get("full.singular_to_working_precision")).isEqualTo(false);
        assertThat((Double) json.get("trace.condition_number_ratio")).isPositive();

        Path s = dir.resolve("singular.json");
        run(0, "approx", "--model", "fcn(depth=0,out=3)", "--data", "synthetic:12,2", "--n", "8", "--kinds", "trace",
                "--report", s.toString());
        org.ntk4j.io.JsonReport singular = org.ntk4j.io.JsonReport.read(s);
        assertThat(singular.get("full.singular_to_working_precision")).isEqualTo(true);
        assertThat(singular.has("trace.condition_number_ratio")).isTrue();
        assertThat(singular.get("trace.condition_number_ratio")).isNull();
        assertThat((Double) singular.get("trace.relative_frobenius_error")).isLessThan(1e-14);
    }

    /** On a ReLU fcn at initialisation the pNTK error falls like width^-1/2 (Mohamadi et al. 2023). */
    @Test
    void widthStudyFitsTheExponentOfThePntkError() {
        String out = run(0, "approx", "--model", "fcn(depth=2,out=10,act=relu)", "--widths", "64,256,1024",
                "--seeds", "2", "--data", "synthetic:7,16", "--n", "6", "--method", "sd")[0];
        java.util.regex.Matcher mt = java.util.regex.Pattern.compile("fitted exponent of the pNTK error in width: "
                + "(-?[0-9.]+)").matcher(out);
        assertThat(mt.find()).as(out).isTrue();
        assertThat(Double.parseDouble(mt.group(1))).isBetween(-0.65, -0.35);
        // a cnn's width is its channels (the study appended width=, which the cnn refuses)
        String cnn = run(0, "approx", "--model", "cnn(depth=1,out=3)", "--widths", "4,8", "--seeds", "1", "--data",
                "synthetic:5,4,4,1", "--n", "4", "--method", "sd")[0];
        assertThat(cnn).contains("| 4 |").contains("| 8 |");
        // one width has its error but no exponent: said so, not "NaN"
        String one = run(0, "approx", "--model", "fcn(depth=1,out=3)", "--widths", "8", "--seeds", "1", "--data",
                "synthetic:5,4", "--n", "4")[0];
        assertThat(one).contains("| 8 |").contains("exponent of the pNTK error in width: none (one width")
                .doesNotContain("NaN");
    }

    /**
     * A width study that fails part way closes its training and held-out inputs (they stayed open: each failed run
     * in a long-lived program kept them): the live bytes return to where a finished run leaves them.
     */
    @Test
    void aWidthStudyThatFailsClosesItsInputs() {
        String[] args = {"approx", "--model", "fcn(depth=1,out=3)", "--widths", "8,16", "--seeds", "1", "--data",
            "synthetic:40,64", "--n", "30", "--dtype", "f64"};
        run(0, args); // what a run caches for later runs (plans of the zoo models) is held from here on
        long baseline = Tensor.liveBytes();
        run(0, args);
        assertThat(Tensor.liveBytes()).as("after a finished run").isEqualTo(baseline);
        assertThat(run(2, parts -> {
            throw new IllegalArgumentException("stopped by the test after " + parts + " width(s)");
        }, args)[1]).contains("stopped by the test after 1 width(s)");
        assertThat(Tensor.liveBytes()).as("after a failed run").isEqualTo(baseline);
    }

    /**
     * approx --widths rewrites its report after each width: a run stopped after its first width keeps it, and
     * --resume measures only the others and ends with the figures and exponent of an uninterrupted run; a resume
     * with other settings, or of approx without --widths, is refused.
     */
    @Test
    void aStoppedWidthStudyResumesToTheFiguresOfAStraightRun() throws Exception {
        String[] args = {"approx", "--model", "fcn(depth=1,out=3,act=relu)", "--widths", "8,32,128", "--seeds", "2",
            "--data", "synthetic:6,5", "--n", "5", "--dtype", "f64", "--report", null};
        Path straight = dir.resolve("straight.json");
        args[args.length - 1] = straight.toString();
        run(0, args);
        org.ntk4j.io.JsonReport whole = org.ntk4j.io.JsonReport.read(straight);
        Path json = dir.resolve("w.json");
        args[args.length - 1] = json.toString();
        assertThat(run(2, parts -> {
            throw new IllegalArgumentException("stopped by the test after " + parts + " width(s)");
        }, args)[1]).contains("stopped by the test after 1 width(s)");
        org.ntk4j.io.JsonReport partial = org.ntk4j.io.JsonReport.read(json);
        assertThat(partial.get("complete")).isEqualTo(false);
        assertThat((int[]) partial.get("widths_done")).containsExactly(8);
        assertThat(partial.has("pntk_error_width_exponent")).isFalse();
        String[] otherSeeds = args.clone();
        otherSeeds[6] = "3";
        assertThat(run(2, append(otherSeeds, "--resume"))[1].trim()).isEqualTo("ntk4j: --resume: --seeds 3 "
                + "differs from the partial report's run, which had 2; resume with the same --seeds (or start a new "
                + "run)");
        assertThat(run(2, "approx", "--report", json.toString(), "--resume")[1].trim()).isEqualTo("ntk4j: --resume: "
                + "continues a width study (--widths), which is measured width by width; approx without --widths is "
                + "one measurement");
        java.util.List<Integer> calls = new java.util.ArrayList<>();
        String out = run(0, calls::add, append(args, "--resume"))[0];
        assertThat(calls).as("widths measured by the resumed run").containsExactly(1, 2);
        assertThat(out).contains("resuming " + json + ": 1 of 3 widths done").contains("| 8 | ").contains("| 128 | ");
        org.ntk4j.io.JsonReport resumed = org.ntk4j.io.JsonReport.read(json);
        assertThat(resumed.keys()).isEqualTo(whole.keys());
        for (String key : whole.keys()) {
            if (whole.get(key) instanceof Double expected) {
                assertThat(Math.abs((Double) resumed.get(key) - expected)).as(key)
                        .isLessThanOrEqualTo(1e-12 * Math.abs(expected));
            } else {
                assertThat(resumed.get(key)).as(key).isEqualTo(whole.get(key));
            }
        }
        assertThat(resumed.get("complete")).isEqualTo(true);
        assertThat((Double) resumed.get("pntk_error_width_exponent")).isNegative();
    }

    private static String[] append(String[] args, String... more) {
        String[] a = java.util.Arrays.copyOf(args, args.length + more.length);
        System.arraycopy(more, 0, a, args.length, more.length);
        return a;
    }

    @Test
    void explainPrintsTheTableAndTheChoice() {
        String out = run(0, "explain", "--model", "fcn(depth=2,width=64,out=10)", "--n", "8", "--input", "20")[0];
        assertThat(out).contains("jacobian_contraction (jc)").contains("ntk_vector_products (vp)")
                .contains("structured_derivatives (sd)").contains("auto chooses: sd");
        String tight = run(0, "explain", "--model", "fcn(depth=2,width=64,out=10)", "--n", "8", "--input", "20",
                "--memory", "1k")[0];
        assertThat(tight).contains("auto chooses: nothing").contains("the smallest needs");
    }

    /**
     * explain --tiled prints the very plan line that kernel --out prints for the same shapes and options (tiles,
     * method, workers, peak, FLOPs), and its refusal when nothing fits; its tile options need --tiled.
     */
    @Test
    void explainTiledPrintsThePlanOfKernelOut() {
        for (String[] options : new String[][] {
                {"--memory", "2m", "--tile", "20", "--threads", "2", "--method", "jc"},
                {"--memory", "3m"},
                {"--memory", "600k", "--method", "vp"}}) {
            String[] common = {"--model", "fcn(depth=2,width=32,out=4)", "--kind", "full"};
            Path k = dir.resolve("k" + options.length + options[1] + ".npy");
            String ran = run(0, concat(concat(new String[] {"kernel", "--data", "synthetic:40,6", "--out",
                    k.toString(), "--quiet"}, common), options))[0];
            String planLine = ran.lines().filter(l -> l.startsWith("kind full, kernel [40, 40, 4, 4]")).findFirst()
                    .orElseThrow(() -> new AssertionError("no plan line in " + ran));
            assertThat(planLine).contains(" tiles of ");
            String explained = run(0, concat(concat(new String[] {"explain", "--n", "40", "--input", "6", "--tiled"},
                    common), options))[0];
            assertThat(explained).as("options %s", String.join(" ", options)).contains("kernel --out: " + planLine);
        }
        String[] tooSmall = {"--model", "fcn(depth=2,width=64,out=10)", "--kind", "full", "--memory", "64k"};
        String refusal = run(2, concat(new String[] {"kernel", "--data", "synthetic:300,32", "--out",
                dir.resolve("no.npy").toString()}, tooSmall))[1];
        assertThat(refusal).contains("raise --memory to at least");
        assertThat(run(2, concat(new String[] {"explain", "--n", "300", "--input", "32", "--tiled"}, tooSmall))[1])
                .isEqualTo(refusal);
        assertThat(run(2, "explain", "--n", "8", "--input", "6", "--tile", "16")[1])
                .contains("--tile: only with --tiled");
        assertThat(run(2, "explain", "--n", "8", "--input", "6", "--tiled", "--trace-axes", "1")[1])
                .contains("--tiled: kernel --out tiles kinds (--kind), not --trace-axes");
        assertThat(run(2, "explain", "--n", "8", "--input", "6", "--tiled", "--threads", "0")[1])
                .contains("--threads: expected a positive number, got 0");
    }

    /**
     * --memory binds an explicit --method in memory (before 2026-12-07 it was AUTO's budget only, and jc ran at
     * hundreds of MiB under 30m): structured derivatives run in output chunks within it, the kernel equal to the
     * unbounded one (float64, within 1e-12 of its largest entry) with measured and predicted peaks within it;
     * Jacobian contraction, which has no smaller steps, is refused before any work in one line naming the method,
     * the least budget and AUTO, and that figure, given back, runs. explain --method prints the same plan, or the
     * same refusal.
     */
    @Test
    void anExplicitMethodHoldsToTheMemoryBudget() throws Exception {
        // the full kernel by its axes: computed in memory, then written to --out (a kind's --out would tile it)
        String[] common = {"kernel", "--model", "fcn(depth=2,width=64,out=10)", "--data", "synthetic:30,20",
            "--dtype", "f64", "--trace-axes", "none"};
        String[] shapes = {"explain", "--model", "fcn(depth=2,width=64,out=10)", "--n", "30", "--input", "20",
            "--dtype", "f64", "--trace-axes", "none"};
        for (String method : new String[] {"sd", "jc"}) {
            Path whole = dir.resolve(method + "-whole.npy");
            run(0, concat(common, new String[] {"--method", method, "--out", whole.toString()}));
            // the kernel is 703 KiB; sd's whole peak 2.0 MiB, its least (one output a chunk) 1.1 MiB; jc's 12.2 MiB
            String[] tight = concat(common, new String[] {"--method", method, "--memory", "1536k"});
            if (method.equals("jc")) {
                // no advice of tiles: the axes form is computed in memory, with --out or not
                String refusal = run(2, tight)[1];
                java.util.regex.Matcher least = java.util.regex.Pattern.compile(
                        "^ntk4j: memory budget: method jc needs at least ([0-9.]+) MiB for these shapes, above the "
                        + "budget of 1.5 MiB: raise --memory to at least \\1 MiB, or let AUTO choose \\(--method "
                        + "auto\\), which fits this budget\n$")
                        .matcher(refusal);
                assertThat(least.find()).as(refusal).isTrue();
                assertThat(run(2, concat(shapes, new String[] {"--method", "jc", "--memory", "1536k"}))[1])
                        .isEqualTo(refusal);
                tight = concat(common, new String[] {"--method", method, "--memory", least.group(1) + "m"});
            }
            long budget = KernelOptions.parseBytes("--memory", tight[tight.length - 1]);
            Path k = dir.resolve(method + "-bounded.npy");
            Path r = dir.resolve(method + ".json");
            String out = run(0, concat(tight, new String[] {"--out", k.toString(), "--report", r.toString()}))[0];
            assertThat(out).contains("method " + method + ":");
            String json = Files.readString(r);
            long predicted = field(json, "predicted_peak_bytes");
            assertThat(predicted).as(method).isLessThanOrEqualTo(budget);
            // jc at exactly its least: the measured peak within the cost model's tested 5% of it
            assertThat((double) field(json, "peak_bytes")).as(method)
                    .isLessThanOrEqualTo(method.equals("jc") ? 1.05 * budget : budget);
            String explained = run(0, concat(shapes, new String[] {"--method", method, "--memory",
                tight[tight.length - 1]}))[0];
            assertThat(explained).contains("kernel --method " + method + " in memory: ")
                    .contains("predicted peak " + org.ntk4j.ntk.CostModel.human(predicted) + " of the "
                            + org.ntk4j.ntk.CostModel.human(budget) + " budget");
            if (method.equals("sd")) {
                assertThat(explained).contains("in output chunks of");
            }
            try (Tensor a = Npy.readTensor(whole); Tensor b = Npy.readTensor(k)) {
                double scale = 0;
                for (int i = 0; i < a.size(); i++) {
                    scale = Math.max(scale, Math.abs(a.getFlat(i)));
                }
                for (int i = 0; i < a.size(); i++) {
                    assertThat(b.getFlat(i)).as(method + " at " + i)
                            .isCloseTo(a.getFlat(i), org.assertj.core.data.Offset.offset(1e-12 * scale));
                }
            }
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @Test
    void modelsListsTheZoo() {
        String out = run(0, "models")[0];
        assertThat(out).contains("fcn(depth=3, width=512").contains("cnn(").contains("resnet(")
                .contains("transformer(").contains("resnet18(out=1000, width=64")
                .contains("11,689,512 parameters and 9,600 buffer values");
        // every listed model line parses as printed, and its listed values are the real defaults: the same
        // parameters, drawn alike, as the bare name (the ImageNet ResNets: parsed, and counted above)
        java.util.regex.Matcher listed = java.util.regex.Pattern.compile("(?m)^([a-z0-9_]+)\\((.*)\\)$").matcher(out);
        int models = 0;
        while (listed.find()) {
            models++;
            String name = listed.group(1);
            org.ntk4j.nn.Model withDefaults = org.ntk4j.nn.Zoo.parse(listed.group(0));
            org.ntk4j.nn.Model bare = org.ntk4j.nn.Zoo.parse(name);
            boolean imagenet = name.startsWith("resnet") && !name.equals("resnet") || name.startsWith("wide");
            int[] in = name.equals("transformer") ? new int[] {3, 4} : new int[] {6, 6};
            if (imagenet) {
                continue; // parsed as listed (their counts above are of the defaults); drawing them takes seconds
            }
            try (org.ntk4j.nn.Params a = withDefaults.init(1, in, org.ntk4j.tensor.DType.F64);
                 org.ntk4j.nn.Params b = bare.init(1, in, org.ntk4j.tensor.DType.F64)) {
                assertThat(a.tensors().keySet()).as(name).isEqualTo(b.tensors().keySet());
                for (String path : a.tensors().keySet()) {
                    assertThat(a.get(path).toDoubleArray()).as("%s %s", name, path)
                            .containsExactly(b.get(path).toDoubleArray());
                }
            }
        }
        assertThat(models).isEqualTo(org.ntk4j.nn.Zoo.entries().size());
    }

    /** max |a - b| / max |b|. */
    private static double maxRelativeDifference(Tensor a, Tensor b) {
        assertThat(a.shape()).containsExactly(b.shape());
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < b.size(); i++) {
            diff = Math.max(diff, Math.abs(a.getFlat(i) - b.getFlat(i)));
            scale = Math.max(scale, Math.abs(b.getFlat(i)));
        }
        return diff / scale;
    }

    /** --params-out writes the batch-norm running statistics as buffers/PATH; --params-in computes with them. */
    @Test
    void parameterFilesCarryTheModelsBuffers() throws Exception {
        String spec = "resnet18(width=1,out=2)";
        Path p = dir.resolve("bn.npz");
        Path changed = dir.resolve("bn2.npz");
        Path k = dir.resolve("k.npy");
        run(0, "kernel", "--model", spec, "--data", "synthetic:2,16,16,3", "--dtype", "f64", "--params-out",
                p.toString());
        java.util.Map<String, Tensor> arrays = org.ntk4j.io.Npz.readTensors(p, DType.F64);
        String var = "buffers/1_batch_norm_eval/running_var";
        assertThat(arrays).containsKey(var).containsKey("0_conv/w");
        arrays.get(var).setFlat(0, 0.25);
        org.ntk4j.io.Npz.write(changed, arrays);
        run(0, "kernel", "--model", spec, "--data", "synthetic:2,16,16,3", "--dtype", "f64", "--kind", "full",
                "--method", "jc", "--seed", "0", "--params-in", changed.toString(), "--out", k.toString());
        Model model = Zoo.parse(spec);
        try (Params params = ParamsFile.load(changed, model, new int[] {16, 16, 3}, DType.F64);
             Params original = ParamsFile.load(p, model, new int[] {16, 16, 3}, DType.F64);
             Tensor x = org.ntk4j.io.DataSource.load("synthetic:2,16,16,3", DType.F64, 0);
             Tensor withStats = EmpiricalNtk.of(model.withBuffers(params.buffers()), params).traceAxes()
                     .method(Method.JACOBIAN_CONTRACTION).ntk(x, null);
             Tensor defaults = EmpiricalNtk.of(model, original).traceAxes().method(Method.JACOBIAN_CONTRACTION)
                     .ntk(x, null);
             Tensor got = Npy.readTensor(k)) {
            // the model without the file's statistics is another network: its kernel with them is refused
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> EmpiricalNtk.of(model, params).ntk(x, null))
                    .hasMessageStartingWith("params: buffer '1_batch_norm_eval/running_var' differs");
            assertThat(params.buffers().get(var.substring("buffers/".length())).getFlat(0)).isEqualTo(0.25);
            assertThat(maxRelativeDifference(got, withStats)).isLessThan(1e-10);
            assertThat(maxRelativeDifference(got, defaults)).isGreaterThan(1e-6);
        } finally {
            arrays.values().forEach(Tensor::close);
        }
    }

    @Test
    void badInputGivesOneLineAndExitCode2() {
        assertThat(run(2, "kernel", "--model", "mlp")[1]).startsWith("ntk4j: unknown model 'mlp'");
        assertThat(run(2, "kernel", "--method", "fast")[1])
                .startsWith("ntk4j: --method: expected auto, jc, vp or sd, got 'fast'");
        assertThat(run(2, "kernel", "--data", "nowhere.npy")[1])
                .startsWith("ntk4j: --data 'nowhere.npy': file not found");
        assertThat(run(2, "kernel", "--data", "synthetic:4")[1]).contains("at least one dimension");
        assertThat(run(2, "kernel", "--kind", "half")[1]).contains("kind: expected full, trace, diagonal, pntk");
        assertThat(run(2, "kernel", "--memory", "lots")[1]).contains("--memory: expected a positive size");
        // Java's number suffixes are no units (they were read as bytes: "8d" was a budget of 8 B)
        for (String bad : new String[] {"8d", "512f", "1gb", "0", "-1g", "1e", "0x10"}) {
            assertThat(run(2, "kernel", "--memory", bad)[1]).as(bad)
                    .isEqualTo("ntk4j: --memory: expected a positive size such as 512m or 8g, got '" + bad + "'"
                            + System.lineSeparator());
        }
        assertThat(KernelOptions.parseBytes("--memory", "1.5K")).isEqualTo(1536);
        assertThat(KernelOptions.parseBytes("--memory", ".5g")).isEqualTo(1L << 29);
        assertThat(KernelOptions.parseBytes("--memory", "1e3")).isEqualTo(1000);
        assertThat(KernelOptions.parseBytes("--memory", " 512m ")).isEqualTo(512L << 20);
        assertThat(run(2, "kernel", "--model", "cnn(depth=1,channels=2)", "--data", "synthetic:2,5")[1])
                .contains("to_image: expects per-example inputs [H, W] or [H, W, C], got [5]")
                .doesNotContain("Exception");
        assertThat(run(2, "kernel", "--no-such-option")[1])
                .isEqualTo("ntk4j: unknown option --no-such-option; see 'ntk4j kernel --help'"
                        + System.lineSeparator());
    }

    @Test
    void nanInDataIsReported() throws Exception {
        Path bad = dir.resolve("bad.npy");
        Npy.write(bad, Tensor.of(new double[] {1, Double.NaN, 3, 4}, 2, 2));
        assertThat(run(2, "kernel", "--data", bad.toString())[1]).contains("NaN at flat index 1");
    }

    /**
     * explain of ResNet-18 at 224×224×3 with O = 1000 and N = 3: before 2026-12-07 it ended in "shape [1000, 3,
     * 112, 112, 64] has more than 2^31-1 elements" (structured derivatives' whole pass cannot be planned), and with
     * --method jc, once the table printed "-", its in-memory line still said "Infinity FLOPs, predicted peak
     * 8388608.0 TiB". It says why jc cannot run, as kernel --method jc refuses, and AUTO's choice.
     */
    @Test
    void explainOfAMethodThatCannotRunInOnePieceSaysWhy() {
        String out = run(0, "explain", "--model", "resnet18", "--input", "224,224,3", "--n", "3", "--method",
                "jc")[0];
        assertThat(out).doesNotContain("Infinity").doesNotContain("8388608")
                .contains("kernel --method jc in memory: cannot run on these shapes in one piece: shape [1000, 3, "
                        + "112, 112, 64] has more than 2^31-1 elements")
                .containsPattern("structured_derivatives \\(sd\\) +- +-  cannot run")
                .contains("auto chooses: sd");
    }
}
