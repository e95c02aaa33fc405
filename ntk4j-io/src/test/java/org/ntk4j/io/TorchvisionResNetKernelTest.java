package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.cpu.Layout;
import org.ntk4j.nn.GradientStep;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.ResNets;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The zoo's ImageNet ResNets with a torchvision network's weights, in float64, against PyTorch: the weights go
 * through the documented path, {@code ntk4j-io/scripts/torchvision_resnet_params.py} on the {@code state_dict}
 * saved by {@code torch.save}, then {@code ParamsFile.load} (which refuses a missing, extra or misshapen array);
 * the outputs, the eNTK (each exact method) and the parameter gradients Jᵀg must equal PyTorch's (autograd, one
 * backward pass per Jacobian row; script {@code torchvision_resnet_reference.py}) within 1e-12 relative. The
 * networks are torchvision's own ResNet class with its blocks and every channel count scaled (width 8 instead of
 * 64), so that the whole Jacobian is cheap; the O = 1000 case checks the full kernel's [N, N, O, O] layout at
 * chosen logits, the pntk and logit:K kinds. Fails, not skips, when {@code NTK4J_REQUIRE_TORCH=1} (CI).
 */
class TorchvisionResNetKernelTest {
    private static final String PYTHON = "/usr/bin/python3";
    private static final double TOL = 1e-12;

    @TempDir
    Path dir;

    /** Runs the reference and the converter; returns the reference arrays (the converted file is dir/p.npz). */
    private Map<String, Tensor> reference(String arch, int width, int out, int n, int size, String rows)
            throws IOException, InterruptedException {
        boolean torch = TorchvisionResNetTest.hasTorchvision();
        assertThat(torch || !"1".equals(System.getenv("NTK4J_REQUIRE_TORCH")))
                .as("NTK4J_REQUIRE_TORCH=1 but %s cannot import torch and torchvision", PYTHON).isTrue();
        assumeTrue(torch, "SKIPPED: " + PYTHON + " cannot import torch and torchvision; apt-get install "
                + "python3-torch python3-torchvision to run it.");
        Path script = dir.resolve("reference.py");
        try (InputStream in = TorchvisionResNetKernelTest.class.getResourceAsStream(
                "torchvision_resnet_reference.py")) {
            Files.write(script, in.readAllBytes());
        }
        run(List.of(PYTHON, script.toString(), arch, "" + width, "" + out, "" + n, "" + size, rows, dir.toString()));
        // the converter users run, from the module's scripts (surefire runs in the module's directory)
        Path converter = Path.of("scripts", "torchvision_resnet_params.py").toAbsolutePath();
        assertThat(converter).exists();
        run(List.of(PYTHON, converter.toString(), dir.resolve("state_dict.pth").toString(),
                dir.resolve("p.npz").toString()));
        return Npz.readTensors(dir.resolve("ref.npz"), DType.F64);
    }

    private static void run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0).as("%s failed: %s", command, log)
                .isTrue();
    }

    /** ||a - b||_F / ||b||_F, the shapes equal. */
    private static double relative(Tensor a, Tensor b) {
        assertThat(a.shape()).containsExactly(b.shape());
        double[] x = a.toDoubleArray();
        double[] y = b.toDoubleArray();
        double num = 0;
        double den = 0;
        for (int i = 0; i < y.length; i++) {
            num += (x[i] - y[i]) * (x[i] - y[i]);
            den += y[i] * y[i];
        }
        assertThat(den).as("the reference is not all zeros").isGreaterThan(0);
        return Math.sqrt(num / den);
    }

    /**
     * Loads the converted file for {@code spec}, checks the parameter count, the forward pass and Jᵀg for every
     * parameter against PyTorch's (torchvision's names and layouts, through {@link ResNets#torchvisionKeys}),
     * and returns the model with the file's running statistics and the parameters.
     */
    private Loaded load(String spec, int depth, Map<String, Tensor> ref) throws IOException {
        Model zoo = Zoo.parse(spec);
        Tensor x = ref.get("x");
        int[] in = java.util.Arrays.copyOfRange(x.shape(), 1, 4);
        Params params = ParamsFile.load(dir.resolve("p.npz"), zoo, in, DType.F64);
        Model model = zoo.withBuffers(params.buffers());
        assertThat(params.count()).isEqualTo((long) ref.get("count").getFlat(0));
        assertThat(params.buffers()).hasSameSizeAs(zoo.bufferSpecs(in));
        try (Tensor y = model.apply(params, x)) {
            assertThat(relative(y, ref.get("y"))).as("forward").isLessThan(TOL);
        }
        // Jᵀg, each parameter in torchvision's layout
        try (Params grad = GradientStep.vjp(model, params, x, ref.get("g"))) {
            int compared = 0;
            for (Map.Entry<String, String> e : ResNets.torchvisionKeys(depth, true).entrySet()) {
                Tensor torch = ref.get("vjp/" + e.getValue());
                if (torch == null) { // a running statistic: a buffer, no gradient
                    assertThat(e.getValue()).matches(".*running_(mean|var)");
                    continue;
                }
                Tensor ours = grad.get(e.getKey());
                try (Tensor asTorch = ours.rank() == 4 ? Layout.transpose(ours, new int[] {3, 2, 0, 1})
                        : ours.rank() == 2 ? Layout.transpose(ours, new int[] {1, 0}) : ours.copy()) {
                    assertThat(relative(asTorch, torch)).as("Jᵀg of %s (%s)", e.getKey(), e.getValue())
                            .isLessThan(TOL);
                }
                compared++;
            }
            assertThat(compared).isEqualTo(grad.tensors().size());
        }
        return new Loaded(model, params, x);
    }

    private record Loaded(Model model, Params params, Tensor x) implements AutoCloseable {
        @Override
        public void close() {
            params.close();
        }
    }

    /** The full eNTK [N, N, O, O] by each exact method against J Jᵀ over every parameter. */
    private void fullKernelByEveryMethod(String spec, int depth, Map<String, Tensor> ref) throws IOException {
        try (Loaded l = load(spec, depth, ref)) {
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor k = EmpiricalNtk.of(l.model(), l.params()).method(m).kernel(KernelKind.full(), l.x(),
                        null)) {
                    assertThat(relative(k, ref.get("k_rows"))).as("full eNTK by %s", m).isLessThan(TOL);
                }
            }
        } finally {
            ref.values().forEach(Tensor::close);
        }
    }

    @Test
    void resnet18WithTorchvisionWeightsHasTorchsOutputsGradientsAndKernelInFloat64() throws Exception {
        fullKernelByEveryMethod("resnet18(width=8,out=10)", 18, reference("resnet18", 8, 10, 3, 64, ""));
    }

    @Test
    void resnet50BottlenecksWithTorchvisionWeightsHaveTorchsKernelInFloat64() throws Exception {
        fullKernelByEveryMethod("resnet50(width=8,out=10)", 50, reference("resnet50", 8, 10, 2, 64, ""));
    }

    @Test
    void wideResnet50WithTorchvisionWeightsHasTorchsKernelInFloat64() throws Exception {
        // width_per_group 128: the bottlenecks' inner convolutions twice as wide
        fullKernelByEveryMethod("wide_resnet50_2(width=8,out=10)", 50,
                reference("wide_resnet50_2", 8, 10, 2, 32, ""));
    }

    @Test
    void thousandOutputsKeepTheDocumentedLayoutsAndKinds() throws Exception {
        Map<String, Tensor> ref = reference("resnet18", 8, 1000, 2, 32, "0,1,500,999");
        try (Loaded l = load("resnet18(width=8,out=1000)", 18, ref)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(l.model(), l.params());
            Tensor kr = ref.get("k_rows"); // [2, 2, 4, 4] at the logits 0, 1, 500, 999
            int[] rows = {0, 1, 500, 999};
            try (Tensor full = ntk.kernel(KernelKind.full(), l.x(), null);
                 Tensor diagonal = ntk.kernel(KernelKind.diagonal(), l.x(), null)) {
                assertThat(full.shape()).containsExactly(2, 2, 1000, 1000);
                assertThat(diagonal.shape()).containsExactly(2, 2, 1000);
                double scale = 0;
                double err = 0;
                for (int a = 0; a < 2; a++) {
                    for (int b = 0; b < 2; b++) {
                        for (int i = 0; i < 4; i++) {
                            double d = kr.getFlat(((a * 2 + b) * 4 + i) * 4 + i);
                            err = Math.max(err, Math.abs(diagonal.getFlat((a * 2 + b) * 1000 + rows[i]) - d));
                            for (int j = 0; j < 4; j++) {
                                double want = kr.getFlat(((a * 2 + b) * 4 + i) * 4 + j);
                                double got = full.getFlat(((a * 2 + b) * 1000 + rows[i]) * 1000 + rows[j]);
                                scale = Math.max(scale, Math.abs(want));
                                err = Math.max(err, Math.abs(got - want));
                            }
                        }
                    }
                }
                assertThat(scale).isGreaterThan(0);
                assertThat(err / scale).as("K[a, b, o, o'] = J(a, o) . J(b, o')").isLessThan(TOL);
            }
            try (Tensor pntk = ntk.kernel(KernelKind.pntk(), l.x(), null);
                 Tensor logit = ntk.kernel(KernelKind.logit(999), l.x(), null)) {
                assertThat(relative(pntk, ref.get("k_pntk"))).as("pntk").isLessThan(TOL);
                double[] k999 = new double[4];
                for (int ab = 0; ab < 4; ab++) {
                    k999[ab] = kr.getFlat((ab * 4 + 3) * 4 + 3);
                }
                try (Tensor want = Tensor.of(k999, 2, 2)) {
                    assertThat(relative(logit, want)).as("logit:999").isLessThan(TOL);
                }
            }
        } finally {
            ref.values().forEach(Tensor::close);
        }
    }
}
