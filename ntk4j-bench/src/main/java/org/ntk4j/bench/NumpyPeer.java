package org.ntk4j.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.ntk4j.io.Npy;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A person as a peer: the FCN kernel written by hand in NumPy, layer by layer ({@code numpy_fcn_ntk.py}: one
 * forward pass, the N·O stacked cotangents backwards, and per layer the Hadamard product of the activation Gram
 * and the cotangent Gram), on the weights and inputs ntk4j used, passed through ntk4j's {@code .npz} parameter
 * file and a {@code .npy} file. Run by the first of {@code $NTK4J_PYTHON}, {@code python3}, {@code /usr/bin/python3}
 * that imports NumPy.
 */
final class NumpyPeer {
    static final String SCRIPT = "numpy_fcn_ntk.py";

    /**
     * What one run of the script gave.
     *
     * @param seconds the timed runs, warm-up excluded
     * @param kernel the kernel of the last timed run, [N, N, O, O], in the run's dtype; the caller closes it
     * @param numpy NumPy's version, its BLAS and Python's version
     */
    record Run(double[] seconds, Tensor kernel, String numpy) {
    }

    private NumpyPeer() {
    }

    /** The first interpreter that imports NumPy, or null when none does. */
    static String findPython() {
        List<String> candidates = new ArrayList<>();
        String env = System.getenv("NTK4J_PYTHON");
        if (env != null && !env.isBlank()) {
            candidates.add(env.strip());
        }
        candidates.add("python3");
        candidates.add("/usr/bin/python3");
        for (String candidate : candidates) {
            if (PeersBench.pythonImports(candidate, "numpy")) {
                return candidate;
            }
            if (Thread.currentThread().isInterrupted()) {
                return null;
            }
        }
        return null;
    }

    /**
     * Runs the script on a zoo fcn's parameters and inputs.
     *
     * @param python the interpreter ({@link #findPython()})
     * @param dir a scratch directory for the files exchanged
     * @param params the fcn's parameters (NTK parameterisation)
     * @param x the inputs [N, in]
     * @param wStd the zoo's σ_w
     * @param bStd the zoo's σ_b
     * @param threads BLAS threads for NumPy
     * @param warmup untimed runs first
     * @param reps timed runs
     * @return the times and the kernel of the last run
     * @throws IOException when the script fails or its output cannot be read
     */
    static Run run(String python, Path dir, Params params, Tensor x, double wStd, double bStd, int threads,
                   int warmup, int reps) throws IOException {
        Path script = dir.resolve(SCRIPT);
        if (!Files.exists(script)) {
            try (InputStream in = NumpyPeer.class.getResourceAsStream(SCRIPT)) {
                Files.copy(in, script);
            }
        }
        Path p = dir.resolve("numpy_params.npz");
        Path xf = dir.resolve("numpy_x.npy");
        Files.deleteIfExists(p);
        ParamsFile.save(params, p);
        Npy.write(xf, x);
        String dtype = x.dtype() == DType.F32 ? "float32" : "float64";
        ProcessBuilder pb = new ProcessBuilder(List.of(python, script.toString(), "--params", p.toString(), "--x",
                xf.toString(), "--w-std", String.valueOf(wStd), "--b-std", String.valueOf(bStd), "--dtype", dtype,
                "--warmup", String.valueOf(warmup), "--reps", String.valueOf(reps), "--out", dir.toString()))
                .redirectErrorStream(true);
        PeersBench.peerEnvironment(pb);
        for (String v : new String[] {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}) {
            pb.environment().put(v, String.valueOf(threads));
        }
        String out;
        try {
            Process proc = pb.start();
            out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!proc.waitFor(600, TimeUnit.SECONDS) || proc.exitValue() != 0) {
                throw new IOException("the NumPy peer failed: " + out.trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running the NumPy peer", e);
        }
        String json = PeersBench.lastJsonLine(out);
        if (json == null || !"ran".equals(PeersBench.jsonString(json, "status"))) {
            throw new IOException("the NumPy peer printed no result: " + out.trim());
        }
        Tensor k = Npy.readTensor(Path.of(PeersBench.jsonString(json, "kernel")), x.dtype());
        String numpy = String.format(Locale.ROOT, "NumPy %s (%s), Python %s", PeersBench.jsonString(json, "numpy"),
                PeersBench.jsonString(json, "blas"), PeersBench.jsonString(json, "python"));
        return new Run(PeersBench.jsonNumbers(json, "seconds"), k, numpy);
    }
}
