package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.ArgumentErrorsTest.oneLineError;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A bad-input audit of the command line (2026-12-07, late night): an option the command would ignore is refused, a
 * checkpoint of another network is said so by every command that reads one, and the refusals name the option as
 * typed, say what was wrong, and nothing deep inside.
 */
class BadInputAuditTest {
    private static final String M = "fcn(depth=1,width=8,out=3)";

    @TempDir
    Path dir;

    /**
     * approx --widths measures the pNTK's error alone: other --kinds were ignored without a word, its table of pNTK
     * errors answering --kinds trace; now refused. --kinds pntk, what it measures, runs.
     */
    @Test
    void theWidthStudyRefusesKindsItWouldIgnore() {
        String[] study = {"approx", "--model", M, "--data", "synthetic:6,4", "--n", "3", "--widths", "8,16",
            "--seeds", "1"};
        assertThat(oneLineError(TiledRunTest.with(study, "--kinds", "trace"))).isEqualTo("ntk4j: --kinds trace: the "
                + "width study (--widths) measures the pNTK's error alone; drop --kinds, or compare the kinds without "
                + "--widths");
        assertThat(oneLineError(TiledRunTest.with(study, "--kinds", "pntk,logit:0")))
                .startsWith("ntk4j: --kinds pntk,logit:0: the width study");
        assertThat(run(0, TiledRunTest.with(study, "--kinds", "pntk"))[0]).contains("| 16 | ");
    }

    /**
     * A spec is the same network in other words: options in another order, defaults written out or left out,
     * numbers by value, case and blanks aside; another activation, parameterisation or width is another network.
     */
    @Test
    void specsAreComparedByWhatTheySay() {
        assertThat(TrainedInputs.sameSpec("fcn(depth=1,width=8,out=10)", "fcn(out=10, WIDTH=08, depth=+1)")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn", "fcn(depth=3,width=512,out=10,act=relu,w_std=1.50)")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn(act=leaky_relu)", "fcn(act=leaky_relu,slope=0.01)")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn(depth=1,out=10,width=8)", "fcn(depth=1,width=8,out=10)")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn(act=leaky_relu)", "fcn(act=leaky_relu,slope=0.2)")).isFalse();
        assertThat(TrainedInputs.sameSpec("fcn(width=8)", "fcn(width=8,act=erf)")).isFalse();
        assertThat(TrainedInputs.sameSpec("fcn(width=8)", "fcn(width=8,param=standard)")).isFalse();
        assertThat(TrainedInputs.sameSpec("fcn(width=8)", "fcn(width=9)")).isFalse();
        assertThat(TrainedInputs.sameSpec("fcn(width=8)", "cnn(channels=8)")).isFalse();
        assertThat(TrainedInputs.sameSpec("cnn(depth=1)", "CNN(depth=1, pool=gap, filter=3)")).isTrue();
        // not a zoo spec: by its text, case and blanks aside
        assertThat(TrainedInputs.sameSpec("linearize(fcn(width=8))", "LINEARIZE(fcn(width=8 ))")).isTrue();
        assertThat(TrainedInputs.sameSpec("linearize(fcn(width=8))", "linearize(fcn(width=08))")).isFalse();
        // every zoo model's options as its refusals list them: a spec left bare is the one with its defaults
        for (org.ntk4j.nn.Zoo.Entry e : org.ntk4j.nn.Zoo.entries()) {
            String full = e.name() + "(" + e.options().replace(" ", "") + ")";
            assertThat(TrainedInputs.sameSpec(e.name(), full)).as(full).isTrue();
            assertThat(TrainedInputs.sameSpec(e.name(), e.name() + "(w_std=0.125)")).as(e.name()).isFalse();
        }
    }

    /**
     * study reads train's checkpoints of each width: one of another network (here relu's parameters under act=erf,
     * the same shapes) is now said once, as kernel --params-in says it; the width's spec in other words (study's
     * fcn(depth=1,out=10,width=8) for train's fcn(depth=1,width=8,out=10)) says nothing, nor does kernel given
     * train's spec in another order (before 2026-12-07 it warned of it as another network).
     */
    @Test
    void checkpointsOfAnotherNetworkAreSaidSo() {
        for (int w : new int[] {8, 16}) {
            run(0, "train", "--model", "fcn(depth=1,width=" + w + ",out=10)", "--train", "default:train:16",
                    "--test", "none", "--epochs", "1", "--batch", "16", "--standardize", "none", "--checkpoint-dir",
                    dir.resolve("w" + w).toString(), "--checkpoint-epochs", "0,1", "--quiet");
        }
        String pattern = dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString();
        String[] study = {"study", "--widths", "8,16", "--checkpoints", pattern, "--sample", "default:test:9",
            "--kinds", "pntk"};
        String[] erf = run(0, TiledRunTest.with(study, "--model", "fcn(depth=1,out=10,act=erf)"));
        List<String> warnings = erf[1].lines().filter(l -> l.startsWith("ntk4j: warning")).toList();
        assertThat(warnings).containsExactly("ntk4j: warning: --checkpoints " + dir.resolve("w8")
                .resolve("epoch-0000.npz") + " was trained as --model fcn(depth=1,width=8,out=10); this command "
                + "computes with --model fcn(depth=1,out=10,act=erf,width=8), whose network is another one unless the "
                + "two specs say the same in other words");
        assertThat(erf[0]).contains("| 1 | ");
        assertThat(run(0, TiledRunTest.with(study, "--model", "fcn(out=10,depth=1)"))[1]).doesNotContain("warning");
        String ck = dir.resolve("w8").resolve("epoch-0001.npz").toString();
        assertThat(run(0, "kernel", "--model", "fcn(out=10, width=8, depth=1)", "--data", "default:test:3",
                "--params-in", ck, "--quiet")[1]).doesNotContain("warning");
        assertThat(run(0, "kernel", "--model", "fcn(out=10,width=8,depth=1,param=standard)", "--data",
                "default:test:3", "--params-in", ck, "--quiet")[1]).contains("was trained as --model "
                + "fcn(depth=1,width=8,out=10); this command computes with --model "
                + "fcn(out=10,width=8,depth=1,param=standard)");
        // study's report option has two names (--json, --report): its refusals name the one typed
        String[] plain = TiledRunTest.with(study, "--model", "fcn(depth=1,out=10)");
        assertThat(oneLineError(TiledRunTest.with(plain, "--report", "s.txt"))).isEqualTo("ntk4j: --report s.txt: the "
                + "output is a .json file; give a name ending in .json");
        assertThat(oneLineError(TiledRunTest.with(plain, "--json", "s.txt"))).isEqualTo("ntk4j: --json s.txt: the "
                + "output is a .json file; give a name ending in .json");
    }

    /**
     * kernel --seed with the parameters read (--params-in, an ONNX model's weights) and nothing else seeded drew
     * nothing: P's kernel came back, the seed unused, without a word; now refused. With synthetic data or a seeded
     * kind it draws those, and runs.
     */
    @Test
    void aSeedThatWouldDrawNothingIsRefused() throws Exception {
        Path p = dir.resolve("p.npz");
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1.5, -2, 3, 4, 0.5, 1}, 2, 3)) {
            Npy.write(x, t);
        }
        run(0, "kernel", "--model", M, "--data", x.toString(), "--params-out", p.toString(), "--quiet");
        String[] read = {"kernel", "--model", M, "--data", x.toString(), "--params-in", p.toString(), "--quiet"};
        assertThat(oneLineError(TiledRunTest.with(read, "--seed", "5"))).isEqualTo("ntk4j: --seed: draws the "
                + "parameters, synthetic data and probes:R's or projected:K's directions; with --params-in " + p
                + " and none of the others it would draw nothing; drop it");
        assertThat(run(0, TiledRunTest.with(read, "--seed", "5", "--kind", "probes:2"))[0]).contains("kind probes:2");
        assertThat(run(0, "kernel", "--model", M, "--data", "synthetic:2,3", "--params-in", p.toString(), "--seed",
                "5", "--quiet")[0]).contains("kernel [2, 2]");
        // the default seed, not typed, is no request
        assertThat(run(0, read)[0]).contains("kernel [2, 2]");
    }

    /** convergence's report option has two names (--report, --json); its refusals name the one typed. */
    @Test
    void anOptionOfTwoNamesIsNamedAsTyped() {
        String[] convergence = {"convergence", "--model", "fcn(depth=1,out=2)", "--data", "synthetic:3,4",
            "--widths", "8,16", "--seeds", "1", "--ensemble", "1"};
        assertThat(oneLineError(TiledRunTest.with(convergence, "--json", "c.txt"))).isEqualTo("ntk4j: --json c.txt: "
                + "the output is a .json file; give a name ending in .json");
        assertThat(oneLineError(TiledRunTest.with(convergence, "--report=c.txt"))).isEqualTo("ntk4j: --report c.txt: "
                + "the output is a .json file; give a name ending in .json");
        assertThat(oneLineError(TiledRunTest.with(convergence, "--resume"))).isEqualTo("ntk4j: --resume: give "
                + "--report, the partial report of the run to continue");
    }

    /** Refusals that said something else than what was wrong. */
    @Test
    void refusalsSayWhatIsWrong() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("k.npy"));
        // a directory is not "not found"
        assertThat(oneLineError("spectrum", sub.toString())).isEqualTo("ntk4j: " + sub + " is a directory; "
                + "expected a kernel file (.npy)");
        Path onnxDir = Files.createDirectories(dir.resolve("net.onnx"));
        assertThat(oneLineError("kernel", "--model", onnxDir.toString(), "--data", "synthetic:2,3"))
                .isEqualTo("ntk4j: --model: " + onnxDir + " is a directory; expected an ONNX file");
        // an empty pattern is not the working directory
        assertThat(oneLineError("study", "--model", "fcn(depth=1,out=10)", "--widths", "8", "--checkpoints", ""))
                .isEqualTo("ntk4j: --checkpoints: empty; expected a pattern of .npz parameter files with {epoch} "
                        + "(or *) for the epoch number, e.g. 'ck/epoch-{epoch}.npz' for train's checkpoints");
        // a budget below one byte was truncated to 0 and refused as "memory budget: must be positive, got 0"
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:2,3", "--memory", "0.5"))
                .isEqualTo("ntk4j: --memory 0.5: less than one byte; expected a positive size such as 512m or 8g");
        // examples no tensor holds: named by the option, not "shape [...] has more than 2^31-1 elements; tile the
        // computation", which --tiled does not help
        assertThat(oneLineError("explain", "--model", M, "--n", "2147483647", "--tiled")).isEqualTo("ntk4j: --n "
                + "2147483647: 2147483647 examples of shape [28, 28] are more than 2^31-1 values, more than one tensor "
                + "holds (kernel reads them into one, tiled or not); use fewer examples");
        assertThat(oneLineError("explain", "--model", M, "--n", "4", "--n2", "3000000", "--input", "1000"))
                .startsWith("ntk4j: --n2 3000000: 3000000 examples of shape [1000] are more than 2^31-1 values");
        // a checkpoint schedule without its directory names the option given ("checkpoints: need ..." named none)
        assertThat(oneLineError("train", "--checkpoint-epochs", "0")).isEqualTo("ntk4j: --checkpoint-epochs: needs "
                + "--checkpoint-dir, the directory of the checkpoints");
        assertThat(oneLineError("train", "--checkpoint-every-steps", "5")).startsWith("ntk4j: "
                + "--checkpoint-every-steps: needs --checkpoint-dir");
        // an integer beyond an int is not "needs an integer"
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:2,3", "--kind", "logit:99999999999"))
                .isEqualTo("ntk4j: --kind: 'logit:99999999999': the argument is too large (at most 2147483647)");
        // a binary file read as CSV: no Java class name
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1.5, -2, 3, 4}, 2, 2)) {
            Npy.write(x, t);
        }
        assertThat(oneLineError("kernel", "--model", M, "--data", "csv:" + x)).isEqualTo("ntk4j: --data: " + x
                + ": cannot parse CSV: not UTF-8 text (a binary file, or text in another encoding: save it as UTF-8)");
    }

    /**
     * probes:R's matrix is priced as the heap holds it, rows of O values each an array: two outputs take 32 bytes a
     * row, not 16, and the budget passed R = 15,000,000 of them (0.67 GiB by the values alone) under --memory 1g,
     * to build 1.3 GiB of arrays.
     */
    @Test
    void probesArePricedAsTheHeapHoldsThem() {
        assertThat(oneLineError("kernel", "--model", "fcn(depth=1,width=8,out=2)", "--data", "synthetic:4,3",
                "--kind", "probes:15000000", "--memory", "1g")).isEqualTo("ntk4j: --kind probes:15000000: R = "
                + "15000000 probes of 2 outputs need 1.3 GiB for the probe matrix, above the memory budget of 1.0 GiB "
                + "(--memory)");
    }

    /**
     * Review (2026-12-07, late night): specs are compared as the zoo reads them: an alias names what its word does
     * (swish is silu, std is standard: warned of as other networks before), a number is the double the model reads
     * ({@code b_std=1e-999999999} is {@code b_std=0}: its plain decimal text, a billion digits, ran the JVM out of
     * memory before), empty parentheses and blanks are nothing; an ONNX file or an expansion by its text.
     */
    @Test
    void specsAreComparedAsTheZooReadsThem() {
        assertThat(TrainedInputs.sameSpec("fcn(act=silu)", "fcn(act=Swish)")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn(param=standard)", "fcn(param=std)")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn(w_std=0.001)", "fcn(w_std=1E-3 )  ")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn(b_std=0)", "fcn(b_std=1e-999999999)")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn(b_std=0)", "fcn(b_std=-0.0)")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn()", " fcn ")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn( )", "fcn(depth=3)")).isTrue();
        assertThat(TrainedInputs.sameSpec("resnet18", "resnet18(w_std=1.41421356, param=standard)")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn(act=silu)", "fcn(act=gelu)")).isFalse();
        assertThat(TrainedInputs.sameSpec("fcn(param=std)", "fcn")).isFalse();
        assertThat(TrainedInputs.sameSpec("fcn(w_std=1e-3)", "fcn(w_std=1e-4)")).isFalse();
        assertThat(TrainedInputs.sameSpec("fcn(act=leaky_relu,slope=1e-1)", "fcn(act=leaky_relu,slope=0.1)")).isTrue();
        assertThat(TrainedInputs.sameSpec("net.onnx", "NET.onnx ")).isTrue();
        assertThat(TrainedInputs.sameSpec("fcn", "net.onnx")).isFalse();
        assertThat(TrainedInputs.sameSpec("linearize(fcn)", "fcn")).isFalse();
    }

    /**
     * The comparison takes each option's default from {@link Zoo#knownOptions}, the text the zoo's refusals show: a
     * guard that it is the builders' own default, every zoo model and option (the slope under act=leaky_relu), as
     * the same parameters and the same outputs at one seed (the ImageNet ResNets at width 1, their width by the
     * parameters' shapes alone). A default changed in a builder and not in the text fails here, not in a warning
     * that stays silent.
     */
    @Test
    void theListedDefaultsAreTheBuildersOwn() {
        for (Zoo.Entry e : Zoo.entries()) {
            String known = Zoo.knownOptions(e.name());
            boolean imagenet = e.listedInput() != null;
            int[] in = imagenet ? new int[] {8, 8, 3} : e.name().equals("fcn") ? new int[] {5}
                    : e.name().equals("transformer") ? new int[] {3, 4} : new int[] {4, 4, 2};
            List<String> options = new java.util.ArrayList<>(List.of(known.split(";")[0].split(",")));
            if (known.contains(";")) {
                options.add("act=leaky_relu," + known.substring(known.indexOf("slope=")));
            }
            assertThat(options).hasSizeGreaterThan(3);
            for (String option : options) {
                String o = option.replace(" ", "");
                String base = o.startsWith("act=leaky_relu,") ? "act=leaky_relu" : "";
                if (imagenet && o.startsWith("width=")) {
                    assertThat(describe(Zoo.parse(e.name() + "(" + o + ")"), in)).as(o)
                            .isEqualTo(describe(Zoo.parse(e.name()), in));
                    continue;
                }
                if (imagenet) {
                    base = "width=1";
                }
                String with = e.name() + "(" + (base.isEmpty() ? o : o.startsWith(base) ? o : base + "," + o) + ")";
                String without = e.name() + (base.isEmpty() ? "" : "(" + base + ")");
                assertThat(TrainedInputs.sameSpec(with, without)).as(with).isTrue();
                Model a = Zoo.parse(with);
                Model b = Zoo.parse(without);
                assertThat(describe(a, in)).as(with).isEqualTo(describe(b, in));
                int[] batch = new int[in.length + 1];
                batch[0] = 2;
                System.arraycopy(in, 0, batch, 1, in.length);
                try (Params pa = a.init(3, in, DType.F64); Params pb = b.init(3, in, DType.F64);
                     Tensor x = Tensor.randomNormal(DType.F64, 1, batch);
                     Tensor ya = a.apply(pa, x); Tensor yb = b.apply(pb, x)) {
                    double scale = 0;
                    for (int i = 0; i < yb.size(); i++) {
                        scale = Math.max(scale, Math.abs(yb.getFlat(i)));
                    }
                    assertThat(scale).as(with).isPositive();
                    for (int i = 0; i < ya.size(); i++) {
                        assertThat(ya.getFlat(i)).as(with).isCloseTo(yb.getFlat(i),
                                org.assertj.core.api.Assertions.within(1e-12 * scale));
                    }
                }
            }
        }
    }

    /** A model's parameters as names, shapes and initial distributions. */
    private static String describe(Model m, int[] in) {
        StringBuilder b = new StringBuilder();
        for (ParamSpec p : m.paramSpecs(in)) {
            b.append(p.path()).append(java.util.Arrays.toString(p.shape())).append(p.initMean()).append(' ')
                    .append(p.initStd()).append(';');
        }
        return b.toString();
    }

    /**
     * An option of two names given in an @-file (picocli reads the file's arguments in its place) is named as the
     * file gives it: the raw arguments hold "@args.txt", and the refusal named --report for the file's --json.
     */
    @Test
    void anOptionOfTwoNamesInAnArgumentFileIsNamedAsTyped() throws Exception {
        Path args = Files.writeString(dir.resolve("args.txt"), "--json\nc.txt\n");
        assertThat(oneLineError("convergence", "--model", "fcn(depth=1,out=2)", "--data", "synthetic:3,4",
                "--widths", "8,16", "--seeds", "1", "--ensemble", "1", "@" + args)).isEqualTo("ntk4j: --json c.txt: "
                + "the output is a .json file; give a name ending in .json");
    }

    /**
     * A seed that draws nothing is refused wherever it would be ignored (review, 2026-12-07, late night): kernel
     * --infinite (no parameters) on file data took --seed 5 and --seed 6 alike; predict --params-in P and spectrum of
     * an ONNX model did too. With synthetic data or a seeded kind it draws those and runs; --infinite with
     * --params-in is refused for --params-in, not for the seed.
     */
    @Test
    void aSeedThatWouldDrawNothingIsRefusedByEveryCommand() throws Exception {
        Path x = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(new double[] {1.5, -2, 3, 4, 0.5, 1}, 2, 3)) {
            Npy.write(x, t);
        }
        String[] limit = {"kernel", "--model", M, "--data", x.toString(), "--infinite", "--quiet"};
        assertThat(oneLineError(TiledRunTest.with(limit, "--seed", "5"))).isEqualTo("ntk4j: --seed: draws the "
                + "parameters, synthetic data and probes:R's or projected:K's directions; with --infinite (the "
                + "analytic kernel has no parameters) and none of the others it would draw nothing; drop it");
        assertThat(run(0, TiledRunTest.with(limit, "--seed", "5", "--kind", "probes:2"))[0]).contains("probes:2");
        assertThat(run(0, "kernel", "--model", M, "--data", "synthetic:2,3", "--infinite", "--seed", "5",
                "--quiet")[0]).contains("kernel [2, 2]");
        Path p = dir.resolve("p.npz");
        run(0, "kernel", "--model", M, "--data", x.toString(), "--params-out", p.toString(), "--quiet");
        assertThat(oneLineError(TiledRunTest.with(limit, "--params-in", p.toString(), "--seed", "5")))
                .isEqualTo("ntk4j: --infinite: the analytic kernel has no parameters and is not tiled; it does not "
                        + "combine with --params-in");
        Path y = dir.resolve("y.csv");
        Files.writeString(y, "a,b,c,label\n1.5,-2,3,0\n4,0.5,1,1\n-1,2,0.5,2\n");
        String[] predict = {"predict", "--model", M, "--train", y.toString(), "--test", y.toString(),
            "--params-in", p.toString()};
        assertThat(oneLineError(TiledRunTest.with(predict, "--seed", "5"))).isEqualTo("ntk4j: --seed: draws the "
                + "parameters, synthetic data and probes:R's or projected:K's directions; with --params-in " + p
                + " and none of the others it would draw nothing; drop it");
        assertThat(run(0, predict)[0]).isNotEmpty();
        assertThat(run(0, TiledRunTest.with(predict, "--seed", "5", "--kind", "probes:2"))[0]).isNotEmpty();
        // an ONNX model's stored weights: spectrum as kernel; on synthetic data the seed draws the data
        Path onnx = OnnxFiles.mlp(dir.resolve("mlp.onnx"));
        Path x4 = dir.resolve("x4.npy");
        try (Tensor t = Tensor.of(new double[] {1.5, -2, 3, 4, 0.5, 1, -1, 2}, 2, 4)) {
            Npy.write(x4, t);
        }
        for (String command : new String[] {"spectrum", "kernel"}) {
            assertThat(oneLineError(command, "--model", onnx.toString(), "--data", x4.toString(), "--seed", "5"))
                    .isEqualTo("ntk4j: --seed: draws the parameters, synthetic data and probes:R's or projected:K's "
                            + "directions; with the ONNX model's stored weights and none of the others it would draw "
                            + "nothing; drop it");
            assertThat(run(0, command, "--model", onnx.toString(), "--data", "synthetic:3,4", "--seed", "5")[0])
                    .isNotEmpty();
        }
    }
}
