package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.cpu.Layout;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.ResNets;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * ntk4j's {@code resnet18} against torchvision's, in float32: torchvision 0.14's {@code resnet18()} with seeded
 * random weights and random batch-norm statistics, in {@code eval()} mode, exports its {@code state_dict} and a
 * batch of two 64×64×3 inputs with its outputs to an {@code .npz}; the weights go into ntk4j's model through
 * {@link ResNets#torchvisionKeys} (OIHW to HWIO, fc.weight transposed), through a parameter file with buffers
 * ({@link ParamsFile}), and the outputs must agree to 1e-4 relative. Needs {@code /usr/bin/python3} with torch and
 * torchvision (Debian's python3-torch, python3-torchvision); fails, not skips, when {@code NTK4J_REQUIRE_TORCH=1}
 * (CI).
 */
class TorchvisionResNetTest {
    private static final String PYTHON = "/usr/bin/python3";

    private static final String SCRIPT = """
            import sys, numpy as np, torch, torchvision
            torch.manual_seed(0)
            m = torchvision.models.resnet18()
            with torch.no_grad():
                for mod in m.modules():
                    if isinstance(mod, torch.nn.BatchNorm2d):
                        c = mod.num_features
                        mod.weight.copy_(1 + 0.2 * torch.randn(c))
                        mod.bias.copy_(0.2 * torch.randn(c))
                        mod.running_mean.copy_(0.2 * torch.randn(c))
                        mod.running_var.copy_(0.5 + torch.rand(c))
            m.eval()
            x = torch.randn(2, 3, 64, 64)
            with torch.no_grad():
                y = m(x)
            arrays = {k: v.numpy() for k, v in m.state_dict().items() if not k.endswith('num_batches_tracked')}
            arrays['x'] = x.permute(0, 2, 3, 1).contiguous().numpy()
            arrays['y'] = y.numpy()
            np.savez(sys.argv[1], **arrays)
            """;

    @TempDir
    Path dir;

    static boolean hasTorchvision() {
        try {
            Process p = new ProcessBuilder(PYTHON, "-c", "import torch, torchvision").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (java.io.IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** HWIO[h, w, i, o] = OIHW[o, i, h, w]. */
    static Tensor oihwToHwio(Tensor t) {
        return Layout.transpose(t, new int[] {2, 3, 1, 0});
    }

    /** [in, out] = [out, in]ᵀ. */
    static Tensor transpose(Tensor t) {
        return Layout.transpose(t, new int[] {1, 0});
    }

    @Test
    void resnet18MatchesTorchvisionInEvalMode() throws Exception {
        boolean torch = hasTorchvision();
        assertThat(torch || !"1".equals(System.getenv("NTK4J_REQUIRE_TORCH")))
                .as("NTK4J_REQUIRE_TORCH=1 but %s cannot import torch and torchvision (apt-get install "
                        + "python3-torch python3-torchvision)", PYTHON).isTrue();
        assumeTrue(torch, "SKIPPED: " + PYTHON + " cannot import torch and torchvision; apt-get install "
                + "python3-torch python3-torchvision to run it.");
        Path script = dir.resolve("export.py");
        Files.writeString(script, SCRIPT, StandardCharsets.UTF_8);
        Path exported = dir.resolve("torchvision.npz");
        Process p = new ProcessBuilder(List.of(PYTHON, script.toString(), exported.toString()))
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0).as("the export script failed: %s", log)
                .isTrue();

        Model model = Zoo.parse("resnet18");
        int[] in = {64, 64, 3};
        Map<String, Tensor> torchArrays = Npz.readTensors(exported, DType.F32);
        Map<String, Tensor> params = new LinkedHashMap<>();
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        java.util.Set<String> bufferPaths = new java.util.HashSet<>();
        model.bufferSpecs(in).forEach(s -> bufferPaths.add(s.path()));
        for (Map.Entry<String, String> e : ResNets.torchvisionKeys(18, true).entrySet()) {
            Tensor t = torchArrays.get(e.getValue());
            assertThat(t).as("torchvision's state_dict has %s", e.getValue()).isNotNull();
            Tensor converted = t.rank() == 4 ? oihwToHwio(t) : e.getValue().equals("fc.weight") ? transpose(t)
                    : t.copy();
            (bufferPaths.contains(e.getKey()) ? buffers : params).put(e.getKey(), converted);
        }
        // through a parameter file: parameters by path, buffers under buffers/
        Path file = dir.resolve("resnet18.npz");
        try (Params converted = new Params(params, buffers)) {
            assertThat(converted.count()).isEqualTo(11_689_512L);
            ParamsFile.save(converted, file);
        }
        Tensor x = torchArrays.get("x");
        Tensor expected = torchArrays.get("y");
        try (Params loaded = ParamsFile.load(file, model, in, DType.F32);
             Tensor y = model.withBuffers(loaded.buffers()).apply(loaded, x)) {
            assertThat(loaded.buffers()).hasSize(40);
            assertThat(Npz.readTensors(file, DType.F32).keySet())
                    .contains("buffers/1_batch_norm_eval/running_mean", "0_conv/w");
            assertThat(y.shape()).containsExactly(2, 1000);
            float[] a = y.toFloatArray();
            float[] b = expected.toFloatArray();
            double scale = 0;
            double err = 0;
            for (int i = 0; i < b.length; i++) {
                scale = Math.max(scale, Math.abs(b[i]));
                err = Math.max(err, Math.abs(a[i] - b[i]));
            }
            assertThat(scale).isGreaterThan(0.1);
            assertThat(err / scale).as("max |ntk4j - torchvision| / max |torchvision|").isLessThan(1e-4);
        } finally {
            torchArrays.values().forEach(Tensor::close);
        }
    }
}
