package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class ParamsFileTest {
    @TempDir
    Path dir;

    @Test
    void roundTripIsExact() throws Exception {
        Model m = Zoo.parse("cnn(depth=2,channels=3,out=4)");
        int[] in = {6, 6, 1};
        Params p = m.init(7, in, DType.F32);
        Path f = dir.resolve("p.npz");
        ParamsFile.save(p, f);
        Params q = ParamsFile.load(f, m, in, DType.F32);
        assertThat(q.tensors().keySet()).containsExactlyElementsOf(p.tensors().keySet());
        for (String k : p.tensors().keySet()) {
            ArrayAsserts.assertSameElements(k, q.get(k).toFloatArray(), p.get(k).toFloatArray());
        }
    }

    /** A directory is refused in one line saying it is one and what is expected, not the JDK's "(Is a directory)". */
    @Test
    void aDirectoryIsRefusedNamingWhatIsExpected() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("ckpt.npz"));
        assertThatThrownBy(() -> ParamsFile.load(sub, Zoo.parse("fcn(depth=1,width=4,out=2)"), new int[] {3},
                DType.F32)).isInstanceOf(IllegalArgumentException.class).hasMessage(sub + ": a directory; expected a "
                + ".npz file of parameters, as 'ntk4j kernel --params-out' writes (or a checkpoint epoch-EEEE.npz in "
                + "train's --checkpoint-dir)");
    }

    /**
     * Loaded parameters track their writes like drawn ones: the load's NaN/Inf scan holds for later kernel calls
     * (which then scan nothing) until a write, which the next call sees.
     */
    @Test
    void loadedParametersAreValidatedOnce() throws Exception {
        Model m = Zoo.parse("fcn(depth=2,width=8,out=3)");
        int[] in = {5};
        Path f = dir.resolve("p.npz");
        try (Params p = m.init(3, in, DType.F32)) {
            ParamsFile.save(p, f);
        }
        for (DType dt : DType.values()) { // F32 as stored (bytes copied), F64 converted element by element
            try (Params q = ParamsFile.load(f, m, in, dt); Tensor x = Tensor.randomNormal(dt, 4, 2, 5)) {
                for (String k : q.tensors().keySet()) {
                    assertThat(q.get(k).trackedWrites()).as("%s %s tracked", dt, k).isNotNegative();
                    assertThat(q.get(k).knownFinite()).as("%s %s scanned by the load", dt, k).isTrue();
                }
                org.ntk4j.ntk.EmpiricalNtk.of(m, q).ntk(x, null).close();
                for (String k : q.tensors().keySet()) {
                    assertThat(q.get(k).knownFinite()).as("%s %s validated once", dt, k).isTrue();
                }
                String first = q.tensors().keySet().iterator().next();
                q.get(first).setFlat(0, Double.NaN);
                assertThatThrownBy(() -> org.ntk4j.ntk.EmpiricalNtk.of(m, q).ntk(x, null).close())
                        .as("%s: a write after the scan is seen", dt).hasMessageContaining("NaN");
            }
        }
    }

    /** Buffers travel under buffers/PATH; missing ones take their defaults; unknown ones are rejected. */
    @Test
    void buffersAreNamedSeparatelyAndRoundTrip() throws Exception {
        Model m = Zoo.parse("resnet18(width=1,out=2)");
        int[] in = {8, 8, 3};
        Path f = dir.resolve("bn.npz");
        try (Params p = m.init(4, in, DType.F64)) {
            String var = "1_batch_norm_eval/running_var";
            p.buffers().get(var).setFlat(0, 2.5);
            ParamsFile.save(p, f);
            java.util.Map<String, Tensor> raw = Npz.readTensors(f, DType.F64);
            assertThat(raw).containsKey("buffers/" + var).doesNotContainKey(var);
            assertThat(raw).hasSize(p.tensors().size() + p.buffers().size());
            raw.values().forEach(Tensor::close);
            try (Params q = ParamsFile.load(f, m, in, DType.F64);
                 Tensor x = Tensor.randomNormal(DType.F64, 1, 2, 8, 8, 3);
                 Tensor y1 = m.apply(p, x); Tensor y2 = m.withBuffers(q.buffers()).apply(q, x)) {
                assertThat(q.buffers().keySet()).containsExactlyElementsOf(p.buffers().keySet());
                assertThat(q.buffers().get(var).getFlat(0)).isEqualTo(2.5);
                assertThat(q.count()).isEqualTo(p.count());
                assertThat(y2.toDoubleArray()).containsExactly(y1.toDoubleArray());
            }
            // a file without buffers (written before they existed) loads with the defaults
            Path noBuffers = dir.resolve("plain.npz");
            ParamsFile.save(new Params(p.tensors()), noBuffers);
            try (Params q = ParamsFile.load(noBuffers, m, in, DType.F64)) {
                assertThat(q.buffers().get(var).getFlat(0)).isEqualTo(1.0);
            }
            // a buffer the model does not declare
            java.util.Map<String, Tensor> extra = new java.util.LinkedHashMap<>(p.tensors());
            try (Tensor t = Tensor.zeros(DType.F64, 2)) {
                extra.put("buffers/0_conv/running_mean", t);
                Path bad = dir.resolve("bad.npz");
                Npz.write(bad, extra);
                assertThatThrownBy(() -> ParamsFile.load(bad, m, in, DType.F64))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("the model has no buffer 0_conv/running_mean");
            }
        }
    }

    @Test
    void aFileForAnotherModelIsRejectedClearly() throws Exception {
        Path f = dir.resolve("p.npz");
        ParamsFile.save(Zoo.parse("fcn(depth=1,width=8,out=3)").init(1, new int[] {4}, DType.F64), f);
        assertThatThrownBy(() -> ParamsFile.load(f, Zoo.parse("fcn(depth=1,width=9,out=3)"), new int[] {4},
                DType.F64)).hasMessageContaining("'1_dense/w' must have shape [4, 9], has [4, 8]");
    }

    /**
     * NumPy loads the file by the documented names and recomputes the network with the README's formula:
     * NTK parameterisation, h = relu((σ_w/√fan_in)·h·w + σ_b·b), then the readout without relu.
     */
    @Test
    void numpyRecomputesTheNetworkFromTheDocumentedNames() throws Exception {
        String python = NumPyInteropTest.findPythonWithNumPy();
        NumPyInteropTest.requireOrSkip(python);
        Model m = Zoo.parse("fcn(depth=2,width=16,out=3,w_std=1.3,b_std=0.2)");
        int[] in = {5};
        Params p = m.init(3, in, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 4, 6, 5);
        Tensor y = m.apply(p, x);
        Path pf = dir.resolve("params.npz");
        Path xf = dir.resolve("x.npy");
        Path yf = dir.resolve("y.npy");
        ParamsFile.save(p, pf);
        Npy.write(xf, x);
        String script = String.join("\n",
                "import sys, numpy as np",
                "P = np.load(sys.argv[1]); h = np.load(sys.argv[2])",
                "sw, sb = 1.3, 0.2",
                "for i, name in enumerate(['1_dense', '3_dense', '5_dense']):",
                "    w, b = P[name + '/w'], P[name + '/b']",
                "    h = sw / np.sqrt(w.shape[0]) * h @ w + sb * b",
                "    if i < 2: h = np.maximum(h, 0)",
                "np.save(sys.argv[3], h)");
        Process proc = new ProcessBuilder(python, "-c", script, pf.toString(), xf.toString(), yf.toString())
                .redirectErrorStream(true).start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(proc.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(proc.exitValue()).as(out).isZero();
        Tensor ny = Npy.readTensor(yf);
        assertThat(ny.shape()).isEqualTo(y.shape());
        for (int i = 0; i < y.size(); i++) {
            assertThat(ny.getFlat(i)).isCloseTo(y.getFlat(i), org.assertj.core.data.Offset.offset(1e-12));
        }
        assertThat(Files.size(pf)).isPositive();
    }
}
