package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.io.NpyArray;
import org.ntk4j.io.NpyDType;
import org.ntk4j.io.Npz;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.onnx.OnnxModel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The workflow of a PyTorch user: an MLP (Linear, LayerNorm, GELU, Linear) exported by Debian's PyTorch
 * ({@code export_mlp.py}, /usr/bin/python3 with python3-torch), then {@code kernel --model mlp.onnx --kind pntk},
 * {@code explain} and {@code predict} on it. The pNTK equals PyTorch's autograd (float64 on both sides); the CLI's
 * kernel equals the library's. CI sets NTK4J_REQUIRE_TORCH=1: there a missing torch fails these tests.
 */
class OnnxTorchCommandTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void export() throws Exception {
        TorchScripts.run(dir, "export_mlp.py", "the CLI on an exported model");
    }

    private static String model() {
        return dir.resolve("mlp.onnx").toString();
    }

    private static String data() {
        return dir.resolve("x.npy").toString();
    }

    @Test
    void pntkOfTheExportedModelEqualsPyTorchsAutograd() throws IOException {
        Path k = dir.resolve("pntk-cli.npy");
        String out = CliRuns.run(0, "kernel", "--model", model(), "--data", data(), "--kind", "pntk", "--dtype",
                "f64", "--out", k.toString(), "--overwrite", "--quiet")[0];
        assertThat(out).contains("80 parameters; x1 [6, 5]");
        // float32 weights and inputs widened exactly on both sides, the rest float64 arithmetic, except LayerNorm's
        // epsilon: ONNX stores it as a float32 attribute (1e-5 + 2.5e-13), PyTorch's float64 module uses 1e-5
        OnnxFiles.assertClose(CliRuns.values(k), CliRuns.values(dir.resolve("pntk.npy")), 1e-7);
        // float32: the stated tolerance
        Path k32 = dir.resolve("pntk-f32.npy");
        CliRuns.run(0, "kernel", "--model", model(), "--data", data(), "--kind", "pntk", "--out", k32.toString(),
                "--overwrite", "--quiet");
        OnnxFiles.assertClose(CliRuns.values(k32), CliRuns.values(dir.resolve("pntk.npy")), 1e-4);
    }

    /**
     * A text model of int64 token ids (nn.Embedding(50, 8), the mean over the sequence, Linear(8, 3)): the CLI reads
     * the int64 ids.npy exactly, and the pNTK, the embedding table's 400 parameters included, equals PyTorch's
     * autograd; an id the table does not have is refused in one line naming the input, the example, the id and the
     * range, and fractional ids (standardized data, say) are refused too.
     */
    @Test
    void textModelOfTokenIdsEqualsPyTorchsAutogradAndBadIdsAreRefused() throws IOException {
        String text = dir.resolve("text.onnx").toString();
        String ids = dir.resolve("ids.npy").toString();
        Path k = dir.resolve("text-pntk-cli.npy");
        String out = CliRuns.run(0, "kernel", "--model", text, "--data", ids, "--kind", "pntk", "--dtype", "f64",
                "--out", k.toString(), "--overwrite", "--quiet")[0];
        assertThat(out).contains("427 parameters; x1 [6, 5]");
        // float32 weights widened exactly, float64 arithmetic on both sides
        OnnxFiles.assertClose(CliRuns.values(k), CliRuns.values(dir.resolve("text_pntk.npy")), 1e-12);
        Path k32 = dir.resolve("text-pntk-f32.npy");
        CliRuns.run(0, "kernel", "--model", text, "--data", ids, "--kind", "pntk", "--out", k32.toString(),
                "--overwrite", "--quiet");
        OnnxFiles.assertClose(CliRuns.values(k32), CliRuns.values(dir.resolve("text_pntk.npy")), 1e-5);
        Path bad = dir.resolve("bad-ids.npy");
        Npy.write(bad, NpyArray.ofLongs(NpyDType.INT64, new long[] {1, 2, 3, 4, 5, 6, 7, 50, 8, 9}, 2, 5));
        String err = CliRuns.run(2, "kernel", "--model", text, "--data", bad.toString())[1];
        assertThat(err).isEqualTo("ntk4j: --data: input 'ids' of text.onnx holds token ids (int64); example 1 has "
                + "id 50, out of range for the 50 rows of 'emb.weight' (ids -50 to 49)\n");
        err = CliRuns.run(2, "kernel", "--model", text, "--data", ids, "--standardize", "global")[1];
        assertThat(err).startsWith("ntk4j: --data: input 'ids' of text.onnx holds token ids (int64); example 0 has ")
                .endsWith(", not a whole number\n");
    }

    @Test
    void kernelEqualsTheLibrarysAndFreezeDropsParameters() throws IOException {
        Path k = dir.resolve("trace.npy");
        CliRuns.run(0, "kernel", "--model", model(), "--data", data(), "--dtype", "f64", "--out", k.toString(),
                "--overwrite", "--quiet");
        OnnxModel onnx = OnnxModel.load(Path.of(model()));
        try (Params p = onnx.params(DType.F64); Tensor x = Npy.readTensor(Path.of(data()), DType.F64);
             Tensor lib = EmpiricalNtk.of(onnx.model(), p).ntk(x, null)) {
            double[] expected = new double[lib.size()];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = lib.getFlat(i);
            }
            OnnxFiles.assertClose(CliRuns.values(k), expected, 1e-12);
        }
        // fc1 (35 + 7) frozen: 38 of the 80 remain
        String out = CliRuns.run(0, "kernel", "--model", model(), "--data", data(), "--freeze", "^fc1\\.")[0];
        assertThat(out).contains("38 parameters");
        out = CliRuns.run(0, "kernel", "--model", model(), "--data", data(), "--params-only", "^norm\\.")[0];
        assertThat(out).contains("14 parameters");
    }

    /**
     * Learned scalars (nn.Parameters of shape [], CLIP's logit_scale and a gain) are parameters, by name, and so is
     * the scalar buffer temp (a file does not say what trained): with temp frozen the pNTK equals PyTorch's autograd
     * over named_parameters(); --params-only keeps the two scalars alone.
     */
    @Test
    void learnedScalarsAreParametersByName() throws IOException {
        String scalars = dir.resolve("scalars.onnx").toString();
        Path k = dir.resolve("scalars-pntk-cli.npy");
        String out = CliRuns.run(0, "kernel", "--model", scalars, "--data", data(), "--kind", "pntk", "--dtype",
                "f64", "--freeze", "^temp$", "--out", k.toString(), "--overwrite", "--quiet")[0];
        // fc 15 + 3, logit_scale and gain
        assertThat(out).contains("20 parameters; x1 [6, 5]");
        // float32 weights and inputs widened exactly, float64 arithmetic on both sides
        OnnxFiles.assertClose(CliRuns.values(k), CliRuns.values(dir.resolve("scalars_pntk.npy")), 1e-12);
        out = CliRuns.run(0, "kernel", "--model", scalars, "--data", data(), "--kind", "pntk", "--out",
                dir.resolve("scalars-all.npy").toString(), "--overwrite", "--quiet")[0];
        assertThat(out).contains("21 parameters");
        out = CliRuns.run(0, "kernel", "--model", scalars, "--data", data(), "--kind", "pntk", "--params-only",
                "^(logit_scale|gain)$", "--out", dir.resolve("scalars-two.npy").toString(), "--overwrite",
                "--quiet")[0];
        assertThat(out).contains("2 parameters");
    }

    @Test
    void paramsRoundTripUnderTheModulesNames() throws IOException {
        Path p = dir.resolve("params.npz");
        Path k1 = dir.resolve("k1.npy");
        Path k2 = dir.resolve("k2.npy");
        CliRuns.run(0, "kernel", "--model", model(), "--data", data(), "--dtype", "f64", "--params-out", p.toString(),
                "--out", k1.toString(), "--overwrite", "--quiet");
        assertThat(Npz.readHeaders(p).keySet()).containsExactly("fc1.weight", "fc1.bias", "norm.weight", "norm.bias",
                "fc2.weight", "fc2.bias");
        CliRuns.run(0, "kernel", "--model", model(), "--data", data(), "--dtype", "f64", "--params-in", p.toString(),
                "--out", k2.toString(), "--overwrite", "--quiet");
        assertThat(CliRuns.values(k2)).containsExactly(CliRuns.values(k1));
    }

    @Test
    void explainAndPredictOnTheExportedModel() {
        String out = CliRuns.run(0, "explain", "--model", model(), "--n", "6", "--kind", "pntk")[0];
        assertThat(out).contains("input 'x' [5], output 'y' [3]").contains("6 parameter tensors, 80 scalars")
                .containsPattern("fc1\\.weight +\\[7, 5\\] +35 +structured")
                .containsPattern("norm\\.bias +\\[7\\] +7 +structured");
        String train = data() + ":labels=" + dir.resolve("y.npy");
        out = CliRuns.run(0, "predict", "--model", model(), "--train", train, "--test", train, "--kind", "pntk")[0];
        assertThat(out).contains("80 parameters, 3 outputs").contains("test accuracy");
    }
}
