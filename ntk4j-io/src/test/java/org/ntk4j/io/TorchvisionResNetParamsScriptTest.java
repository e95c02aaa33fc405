package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@code ntk4j-io/scripts/torchvision_resnet_params.py} on the state_dicts users have (script
 * {@code torchvision_resnet_variants.py}, torchvision's ResNet class scaled to width 8): a DataParallel model's
 * {@code module.} keys and a training checkpoint wrapping {@code state_dict} give the plain file; float16 and
 * bfloat16 weights are widened to float32 (ntk4j reads no float16); the printed zoo spec loads the file; what the
 * zoo has no model for (ResNeXt, resnet101, a convolution bias, a missing key, integer weights) is refused in one
 * line with nothing written; an existing OUT is not replaced without {@code --overwrite}. Before 2026-12-07 the
 * first two were refused as "not a torchvision ResNet key", float16 was written as {@code <f2} (unreadable),
 * bfloat16 failed with a traceback, ResNeXt and resnet101 were converted to files no zoo spec loads, and OUT was
 * replaced in place (or OUT.npz written for an OUT without the extension). Fails, not skips, when
 * {@code NTK4J_REQUIRE_TORCH=1} (CI).
 */
class TorchvisionResNetParamsScriptTest {
    private static final String PYTHON = "/usr/bin/python3";
    private static final String SPEC = "resnet18(width=8,out=10)";

    /** The variants, made once (torch's start-up dominates); each test writes outputs of its own names. */
    @TempDir
    static Path dir;

    @BeforeAll
    static void variants() throws IOException, InterruptedException {
        boolean torch = TorchvisionResNetTest.hasTorchvision();
        assertThat(torch || !"1".equals(System.getenv("NTK4J_REQUIRE_TORCH")))
                .as("NTK4J_REQUIRE_TORCH=1 but %s cannot import torch and torchvision", PYTHON).isTrue();
        assumeTrue(torch, "SKIPPED: " + PYTHON + " cannot import torch and torchvision; apt-get install "
                + "python3-torch python3-torchvision to run it.");
        for (String[] r : new String[][] {{"torchvision_resnet_reference.py", "reference.py"},
            {"torchvision_resnet_variants.py", "variants.py"}}) {
            try (InputStream in = TorchvisionResNetParamsScriptTest.class.getResourceAsStream(r[0])) {
                Files.write(dir.resolve(r[1]), in.readAllBytes());
            }
        }
        Result r = run(List.of(PYTHON, dir.resolve("variants.py").toString(), dir.toString()));
        assertThat(r.rc).as("variants.py: %s", r.err).isEqualTo(0);
    }

    private record Result(int rc, String out, String err) { }

    private static Result run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(false).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
        return new Result(p.exitValue(), out, err);
    }

    /** Runs the converter on dir/NAME.pth into dir/OUT (with the extra arguments). */
    private Result convert(String name, String out, String... extra) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(PYTHON, Path.of("scripts", "torchvision_resnet_params.py")
                .toAbsolutePath().toString(), dir.resolve(name + ".pth").toString(), dir.resolve(out).toString()));
        cmd.addAll(List.of(extra));
        return run(cmd);
    }

    /** Converts NAME.pth to NAME.npz, checks the spec printed and that the zoo loads the file by it. */
    private Map<String, Tensor> converted(String name, String spec) throws IOException, InterruptedException {
        Result r = convert(name, name + ".npz");
        assertThat(r.rc).as("%s: %s", name, r.err).isEqualTo(0);
        Path npz = dir.resolve(name + ".npz");
        assertThat(r.out.strip()).endsWith(" arrays to " + npz + " for --model '" + spec + "'");
        try (Params p = ParamsFile.load(npz, Zoo.parse(spec), new int[] {32, 32, 3}, DType.F64)) {
            assertThat(p.count()).isGreaterThan(0);
        }
        return Npz.readTensors(npz, DType.F64);
    }

    private static void assertSameArrays(Map<String, Tensor> a, Map<String, Tensor> b, String what) {
        assertThat(a.keySet()).as(what).isEqualTo(b.keySet());
        for (String k : a.keySet()) {
            assertThat(a.get(k).shape()).as("%s %s", what, k).containsExactly(b.get(k).shape());
            assertThat(a.get(k).toDoubleArray()).as("%s %s", what, k).containsExactly(b.get(k).toDoubleArray());
        }
    }

    private static void close(Map<String, Tensor> m) {
        m.values().forEach(Tensor::close);
    }

    @Test
    void dataParallelCheckpointsAndHalfPrecisionConvertAsThePlainStateDict() throws Exception {
        Map<String, Tensor> plain = converted("plain", SPEC);
        Map<String, Tensor> dp = converted("dp", SPEC);
        Map<String, Tensor> ckpt = converted("ckpt", SPEC);
        assertSameArrays(dp, plain, "module.-prefixed");
        assertSameArrays(ckpt, plain, "checkpoint['state_dict']");
        for (String h : new String[] {"half", "bf16"}) {
            Map<String, Tensor> half = converted(h, SPEC);
            Map<String, Tensor> widened = converted(h + "_f32", SPEC);
            assertSameArrays(half, widened, h);
            // float32, which ntk4j reads (it reads no '<f2'), the plain float64 values rounded
            assertThat(Npz.readHeaders(dir.resolve(h + ".npz")).values())
                    .allSatisfy(hd -> assertThat(hd.descr()).isEqualTo("<f4"));
            double[] w = half.get("0_conv/w").toDoubleArray();
            double[] p = plain.get("0_conv/w").toDoubleArray();
            double err = 0;
            for (int i = 0; i < w.length; i++) {
                err = Math.max(err, Math.abs(w[i] - p[i]) / Math.max(1e-3, Math.abs(p[i])));
            }
            assertThat(err).as("%s rounding", h).isGreaterThan(0).isLessThan(h.equals("half") ? 1e-3 : 1e-2);
            close(half);
            close(widened);
        }
        close(converted("nobias", "resnet18(width=8,out=10,b_std=0)"));
        close(converted("wide", "wide_resnet50_2(width=8,out=10)"));
        close(plain);
        close(dp);
        close(ckpt);
    }

    @Test
    void whatTheZooHasNoModelForIsRefusedInOneLineWithNothingWritten() throws Exception {
        String[][] cases = {
            {"resnext", "grouped convolutions (layer1.0.conv2.weight [8, 2, 3, 3]: groups=4, ResNeXt): the zoo's "
                + "ResNets have none"},
            {"r101", "resnet101 (bottleneck blocks per layer 3,4,23,3): ntk4j's zoo has resnet18, resnet34, "
                + "resnet50 and wide_resnet50_2 only"},
            {"convbias", "1 key(s) that " + SPEC + " does not have: layer1.0.conv1.bias"},
            {"missing", "1 key(s) of " + SPEC + " missing: layer2.0.downsample.1.running_var"},
            {"ints", "'conv1.weight' holds int32 values; float16, bfloat16, float32 or float64 expected"},
            {"fc2", "2 key(s) that resnet18(width=8,out=10,b_std=0) does not have: fc.0.weight, fc.0.bias"},
        };
        for (String[] c : cases) {
            Result r = convert(c[0], c[0] + ".npz");
            assertThat(r.rc).as(c[0]).isEqualTo(2);
            assertThat(r.err).as(c[0]).isEqualTo("torchvision_resnet_params.py: " + c[1] + "\n");
            assertThat(dir.resolve(c[0] + ".npz")).doesNotExist();
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp-"));
        }
    }

    @Test
    void anExistingOutputIsReplacedOnlyWithOverwrite() throws Exception {
        Path out = dir.resolve("p.npz");
        Files.writeString(out, "mine");
        Result r = convert("plain", "p.npz");
        assertThat(r.rc).isEqualTo(2);
        assertThat(r.err).isEqualTo("torchvision_resnet_params.py: OUT " + out + " exists; pass --overwrite to "
                + "replace it\n");
        assertThat(Files.readString(out)).isEqualTo("mine");
        r = convert("plain", "p.npz", "--overwrite");
        assertThat(r.rc).as(r.err).isEqualTo(0);
        assertThat(Npz.keys(out)).hasSize(102);
        // np.savez appends ".npz" to any other name: refused, not written as p.params.npz
        r = convert("plain", "p.params");
        assertThat(r.rc).isEqualTo(2);
        assertThat(r.err).contains("must end in .npz");
        assertThat(dir.resolve("p.params")).doesNotExist();
        assertThat(dir.resolve("p.params.npz")).doesNotExist();
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp-"));
        }
    }
}
