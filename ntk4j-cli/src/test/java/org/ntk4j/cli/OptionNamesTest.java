package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.ArgumentErrorsTest.oneLineError;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every refusal of a value names the option as the user typed it ("--dtype: ...", not the library's "dtype: ..."),
 * in every command that takes it; a missing or corrupt input file is refused before anything is printed.
 */
class OptionNamesTest {
    private static final String M = "fcn(depth=1,width=8,out=3)";

    @TempDir
    Path dir;

    @Test
    void theLibrarysRefusalsOfAValueNameTheOption() {
        String[] data = {"--model", M, "--data", "synthetic:8,6"};
        for (String command : new String[] {"kernel", "approx", "spectrum", "convergence"}) {
            assertThat(oneLineError(with(command, data, "--dtype", "f16"))).as(command)
                    .isEqualTo("ntk4j: --dtype: expected f32 or f64, got 'f16'");
            assertThat(oneLineError(with(command, data, "--method", "fast"))).as(command)
                    .isEqualTo("ntk4j: --method: expected auto, jc, vp or sd, got 'fast'");
        }
        assertThat(oneLineError("explain", "--model", M, "--input", "6", "--dtype", "f16"))
                .isEqualTo("ntk4j: --dtype: expected f32 or f64, got 'f16'");
        assertThat(oneLineError("train", "--model", M, "--train", "default:train:8", "--dtype", "f16"))
                .isEqualTo("ntk4j: --dtype: expected f32 or f64, got 'f16'");
        assertThat(oneLineError(with("kernel", data, "--kind", "bogus"))).isEqualTo("ntk4j: --kind: expected full, "
                + "trace, diagonal, pntk, pntk-unscaled, logit:K, probes:R or projected:K, got 'bogus'");
        assertThat(oneLineError(with("kernel", data, "--kind", "logit:x")))
                .isEqualTo("ntk4j: --kind: 'logit:x' needs an integer after ':'");
        assertThat(oneLineError(with("approx", data, "--n", "4", "--kinds", "pntk,bogus")))
                .startsWith("ntk4j: --kinds: expected full, trace,").endsWith("got 'bogus'");
        assertThat(oneLineError(with("kernel", data, "--standardize", "zscore")))
                .isEqualTo("ntk4j: --standardize: expected global, per-feature or none, got 'zscore'");
        assertThat(oneLineError(with("spectrum", data, "--standardize", "zscore")))
                .isEqualTo("ntk4j: --standardize: expected global, per-feature or none, got 'zscore'");
    }

    /** Axes the model's outputs do not have were refused, when the kernel was planned, as "trace axes [5]: ...". */
    @Test
    void axesTheOutputsDoNotHaveNameTheirOption() {
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:8,6", "--trace-axes", "5")).isEqualTo(
                "ntk4j: --trace-axes [5]: axis 5 is out of range for f(x) of rank 2 (expected -2 <= axis < 2, the "
                        + "batch axis included)");
        assertThat(oneLineError("explain", "--model", M, "--input", "6", "--trace-axes", "1", "--diagonal-axes",
                "-1")).isEqualTo("ntk4j: --trace-axes [1] and --diagonal-axes [-1] both name axis 1 of f(x) (rank 2); "
                + "an axis is either traced or diagonal");
    }

    /** logit:K beyond the model's outputs was refused by the library once the kernel was reached, as "kind: ...". */
    @Test
    void aKindTheModelCannotHaveNamesItsOption() {
        String[] data = {"--model", M, "--data", "synthetic:8,6"};
        String tooFar = "ntk4j: --kind: logit:5 but the model has 3 outputs (0..2)";
        assertThat(oneLineError(with("kernel", data, "--kind", "logit:5"))).isEqualTo(tooFar);
        assertThat(oneLineError(with("spectrum", data, "--kind", "logit:5"))).isEqualTo(tooFar);
        assertThat(oneLineError("explain", "--model", M, "--input", "6", "--kind", "logit:5")).isEqualTo(tooFar);
        assertThat(oneLineError("predict", "--model", M, "--train", "synthetic:8,6", "--test", "synthetic:4,6",
                "--kind", "logit:5")).isEqualTo(tooFar);
        assertThat(oneLineError(with("approx", data, "--n", "4", "--kinds", "pntk,logit:5")))
                .isEqualTo("ntk4j: --kinds: logit:5 but the model has 3 outputs (0..2)");
    }

    @Test
    void aDataSourceThatCannotBeReadNamesItsOption() {
        Path missing = dir.resolve("missing.npy");
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:8,6", "--x2", missing.toString()))
                .isEqualTo("ntk4j: --x2 '" + missing + "': file not found: " + missing);
        assertThat(oneLineError("predict", "--model", M, "--train", "synthetic:8,6", "--test", "synthetic:x"))
                .isEqualTo("ntk4j: --test 'synthetic:x': expected synthetic:N,D1[,D2,...] with positive integers");
        assertThat(oneLineError("train", "--model", M, "--train", missing.toString()))
                .isEqualTo("ntk4j: --train '" + missing + "': file not found: " + missing);
    }

    /**
     * The library's leading name becomes the option only when the option gives that parameter; another is kept after
     * "OPTION: " (it named something else, which a replacement would misname), and a message that already opens with
     * an option is left as it is (no "--kind: --kinds ...", no option named twice); names compare whole.
     */
    @Test
    void renamingReplacesOnlyTheOptionsOwnNameAndNeverDoublesOne() {
        assertThat(renamed("--kind", "kind: logit:5 but the model has 3 outputs (0..2)"))
                .isEqualTo("--kind: logit:5 but the model has 3 outputs (0..2)");
        assertThat(renamed("--kinds", "kind pntk: needs outputs [N, O]"))
                .isEqualTo("--kinds pntk: needs outputs [N, O]");
        assertThat(renamed("--x2", "data source 'x.npy': file not found")).isEqualTo("--x2 'x.npy': file not found");
        assertThat(renamed("--standardize", "standardisation: expected global")).isEqualTo("--standardize: expected "
                + "global");
        // another parameter's name: kept, the option in front
        assertThat(renamed("--params-in", "dtype: f16 arrays cannot be read")).isEqualTo("--params-in: dtype: f16 "
                + "arrays cannot be read");
        assertThat(renamed("--kind", "method jc needs 3 GiB")).isEqualTo("--kind: method jc needs 3 GiB");
        assertThat(renamed("--data", "kind pntk: needs outputs")).isEqualTo("--data: kind pntk: needs outputs");
        // a longer word is not the name: "kinds", "methods"
        assertThat(renamed("--kind", "kinds: two of them")).isEqualTo("--kind: kinds: two of them");
        assertThat(renamed("--method", "methods differ")).isEqualTo("--method: methods differ");
        // already naming an option: this one, or another (a prefix of it or not)
        IllegalArgumentException own = new IllegalArgumentException("--kind: diagonal gives one N×N kernel per output");
        assertThat(KernelOptions.renamed("--kind", own)).isSameAs(own);
        assertThat(renamed("--kind", "--kinds logit:5: beyond the outputs")).isEqualTo("--kinds logit:5: beyond the "
                + "outputs");
        assertThat(renamed("--kind", "--t: expected times >= 0 or inf, got -1")).isEqualTo("--t: expected times >= 0 "
                + "or inf, got -1");
        assertThat(renamed("--dtype", null)).isEqualTo("--dtype: invalid value");
        IllegalArgumentException cause = new IllegalArgumentException("kind: x");
        assertThat(KernelOptions.renamed("--kind", cause).getCause()).isSameAs(cause);
    }

    private static String renamed(String option, String message) {
        return KernelOptions.renamed(option, new IllegalArgumentException(message)).getMessage();
    }

    /**
     * train printed its first line (model, data, optimiser) and then the refusal of a missing or corrupt --params-in
     * or checkpoint: the refusal is now all it prints, as for kernel and predict, naming the option.
     */
    @Test
    void aMissingOrCorruptParameterFileIsRefusedBeforeAnyOutput() throws Exception {
        Path missing = dir.resolve("missing.npz");
        Path corrupt = Files.writeString(dir.resolve("corrupt.npz"), "not a zip");
        String[] train = {"train", "--model", "fcn(depth=1,width=8)", "--train", "default:train:8", "--test", "none",
            "--epochs", "1"};
        assertThat(oneLineError(with(train, "--params-in", missing.toString())))
                .isEqualTo("ntk4j: --params-in: file not found: " + missing);
        assertThat(oneLineError(with(train, "--params-in", corrupt.toString())))
                .startsWith("ntk4j: --params-in: " + corrupt + ": not a .npz file");
        for (String command : new String[] {"kernel", "predict"}) {
            String[] args = command.equals("kernel") ? new String[] {command, "--model", M, "--data", "synthetic:8,6"}
                    : new String[] {command, "--model", "fcn(depth=1,width=8)", "--train", "default:train:8",
                        "--test", "default:test:4"};
            assertThat(oneLineError(with(args, "--params-in", missing.toString()))).as(command)
                    .isEqualTo("ntk4j: --params-in: file not found: " + missing);
            assertThat(oneLineError(with(args, "--params-in", corrupt.toString()))).as(command)
                    .startsWith("ntk4j: --params-in: " + corrupt + ": not a .npz file");
        }
    }

    /**
     * A directory given as --params-in was refused as the JDK words it, "--params-in: DIR (Is a directory)", after
     * the data were read: now one line before any data, naming the option, that it is a directory and what is
     * expected; study, which has no --params-in, says that it reads its parameter files through --checkpoints, and a
     * --checkpoints that is a directory gets the pattern to give.
     */
    @Test
    void aDirectoryForParametersIsRefusedSayingWhatIsExpected() throws Exception {
        Path ckpt = Files.createDirectories(dir.resolve("ckpt"));
        String expected = "ntk4j: --params-in: " + ckpt + ": a directory; expected a .npz file of parameters, as "
                + "'ntk4j kernel --params-out' writes (or a checkpoint epoch-EEEE.npz in train's --checkpoint-dir)";
        String[][] commands = {
            {"kernel", "--model", M, "--data", "synthetic:8,6"},
            {"predict", "--model", "fcn(depth=1,width=8)", "--train", "default:train:8", "--test", "default:test:4"},
            {"train", "--model", "fcn(depth=1,width=8)", "--train", "default:train:8", "--test", "none", "--epochs",
                "1"}};
        for (String[] command : commands) {
            assertThat(oneLineError(with(command, "--params-in", ckpt.toString()))).as(command[0])
                    .isEqualTo(expected);
        }
        String[] study = {"study", "--model", "fcn(depth=1,out=3)", "--widths", "8", "--sample", "default:train:12"};
        assertThat(oneLineError(with(study, "--checkpoints", ckpt.resolve("epoch-{epoch}.npz").toString(),
                "--params-in", ckpt.toString()))).isEqualTo("ntk4j: unknown option --params-in: study reads each "
                + "width's parameter files (.npz) through --checkpoints PATTERN, e.g. "
                + "'ckpt/w{width}/epoch-{epoch}.npz'; see 'ntk4j study --help'");
        assertThat(oneLineError(with(study, "--checkpoints", ckpt.toString()))).isEqualTo("ntk4j: --checkpoints "
                + ckpt + ": a directory; expected a pattern of its .npz parameter files with {epoch} (or *) for the "
                + "epoch number, e.g. '" + ckpt + "/epoch-{epoch}.npz' for train's checkpoints (and {width} in the "
                + "path for several widths)");
        Files.createDirectories(dir.resolve("w8"));
        String perWidth = dir.resolve("w{width}").toString();
        assertThat(oneLineError(with(study, "--checkpoints", perWidth))).isEqualTo("ntk4j: --checkpoints " + perWidth
                + ": a directory; expected a pattern of its .npz parameter files with {epoch} (or *) for the epoch "
                + "number, e.g. '" + perWidth + "/epoch-{epoch}.npz' for train's checkpoints");
    }

    /**
     * A parameter tensor beyond 2^31-1 elements was refused with "tile the computation", which does not help: tiles
     * split the examples, never a parameter. The refusal names the parameter and advises a smaller layer.
     */
    @Test
    void aParameterTooLargeForOneTensorAdvisesASmallerLayerNotTiles() {
        String refusal = oneLineError("explain", "--model", "fcn(depth=1,width=50000,out=3)", "--input", "50000");
        assertThat(refusal).isEqualTo("ntk4j: parameter '1_dense/w' of shape [50000, 50000] has more than 2^31-1 "
                + "elements, more than one tensor holds; computing in tiles splits the examples, not a parameter: use "
                + "a smaller layer (a smaller width, or fewer input features)");
    }

    /** predict's --test none, train's way to train without evaluation, was read as a file: "file not found: none". */
    @Test
    void predictRefusesTestNoneSayingOnlyTrainTakesIt() {
        assertThat(oneLineError("predict", "--model", M, "--train", "synthetic:8,6", "--test", "none"))
                .isEqualTo("ntk4j: --test: predict needs the examples to predict, got 'none' (only train takes --test "
                        + "none, to train without a test set); give test data, e.g. default:test:1000");
    }

    /**
     * study parsed its first width's model inside the refusals naming --sample: a width too large for the JVM was
     * refused as "--sample: fcn: depth=3 and width=...", blaming the sample for the model.
     */
    @Test
    void studysModelRefusalIsNotAttributedToTheSample() throws Exception {
        Files.writeString(dir.resolve("epoch-0.npz"), "never read: the model is refused first");
        assertThat(oneLineError("study", "--model", "fcn(out=3)", "--widths", "5000000", "--checkpoints",
                dir.resolve("epoch-{epoch}.npz").toString(), "--sample", "default:train:12", "--json",
                dir.resolve("s.json").toString())).startsWith("ntk4j: fcn: depth=3 and width=5000000: ")
                .doesNotContain("--sample");
    }

    private static String[] with(String command, String[] middle, String... more) {
        String[] first = new String[middle.length + 1];
        first[0] = command;
        System.arraycopy(middle, 0, first, 1, middle.length);
        return with(first, more);
    }

    private static String[] with(String[] args, String... more) {
        String[] all = java.util.Arrays.copyOf(args, args.length + more.length);
        System.arraycopy(more, 0, all, args.length, more.length);
        return all;
    }
}
