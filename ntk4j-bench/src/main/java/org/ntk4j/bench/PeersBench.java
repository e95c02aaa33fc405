package org.ntk4j.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ntk4j.io.Npy;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * ntk4j against its peers, in one run, on the same network, weights and inputs: the weights go to the peers
 * through ntk4j's {@code .npz} parameter file ({@link ParamsFile}), the inputs through a {@code .npy} file.
 *
 * <ul>
 *   <li>ntk4j: JC, NTK-VP and SD ({@link MethodRuns}); its best is the fastest that ran.</li>
 *   <li>PyTorch: the {@code torch.func}/functorch recipes of PyTorch's "Neural Tangent Kernels" tutorial,
 *       Jacobian contraction and NTK-vector products ({@code torch_ntk_peer.py}), run with Debian's
 *       {@code python3-torch} by {@code /usr/bin/python3}, one process per method; 2 threads, no_grad,
 *       warm-up excluded, OpenBLAS's fastest working core type (probed: Debian's OpenBLAS 0.3.21 misdetects
 *       some CPUs, and a forced type the CPU lacks, such as SkylakeX without AVX-512, crashes).</li>
 *   <li>DJL with its PyTorch engine, offline ({@link DjlPeer}): one backward pass per example and logit.</li>
 *   <li>A person, for the fcn settings: the kernel written by hand in NumPy, layer by layer ({@link NumpyPeer}).</li>
 * </ul>
 * Every peer's kernel is compared with ntk4j's (relative Frobenius error ≤ {@link KernelAgreement#TOLERANCE},
 * float32) before its time ratio is reported.
 */
final class PeersBench {
    static final String PYTHON = "/usr/bin/python3";
    private static final String SCRIPT = "torch_ntk_peer.py";

    /** Options (set by {@link PaperFcnBench.Options}, whose help shows these defaults). */
    static final class Options {
        static final String SETTINGS = "fcn-example,cnn";
        static final String MEMORY_GIB = "8";
        static final String WARMUP_SECONDS = "10";
        static final String TIMEOUT_SECONDS = "900";
        boolean quick;
        List<Setting> settings = Setting.list(SETTINGS);
        double memoryGiB = Double.parseDouble(MEMORY_GIB);
        boolean install = true;
        int warmup = 1;
        int reps = 3;
        /** ntk4j's cheap methods are first warmed up for this long each (the JIT's steady state takes seconds). */
        double warmupSeconds = Double.parseDouble(WARMUP_SECONDS);
        int threads = 2;
        /** A peer process still running after this long is stopped and reported as such. */
        int timeoutSeconds = Integer.parseInt(TIMEOUT_SECONDS);
        /** ntk4j methods predicted above this many FLOPs run once after the warm-up (or not at all in --quick). */
        double onceFlops = 5e10;
    }

    /**
     * A peer setting: a zoo network the peers can rebuild (fcn or cnn), its input shape and batch size.
     *
     * @param wStd the zoo's weight standard deviation, as in the spec
     * @param bStd the zoo's bias standard deviation, as in the spec
     */
    record Setting(String name, String spec, String arch, int[] input, int n, double wStd, double bStd,
                   String note) {
        /** The settings there are, as {@code --peer-settings} lists them. */
        static final String NAMES = "fcn-example, cnn, cnn-wide";

        /**
         * The settings of a comma-separated list.
         *
         * @throws IllegalArgumentException naming {@code --peer-settings} for an unknown one
         */
        static List<Setting> list(String names) {
            List<Setting> settings = new ArrayList<>();
            for (String name : names.split(",", -1)) {
                settings.add(named(name.trim()));
            }
            return settings;
        }

        static Setting named(String name) {
            return switch (name) {
                case "fcn-example" -> new Setting(name, "fcn(depth=3,width=2048,out=8)", "fcn", new int[] {3072},
                        16, 1.5, 0.05, "neural-tangents' FCN example (notebooks/empirical_ntk_fcn.ipynb): inputs "
                        + "3072, 3 × 2048 ReLU, O = 8, N = 16; zoo defaults w_std 1.5, b_std 0.05");
                case "cnn" -> new Setting(name, "cnn(depth=3,channels=32,out=10)", "cnn", new int[] {16, 16, 3},
                        16, 1.5, 0.05, "3 × (conv 3×3 SAME, 32 channels, ReLU), global average pool, dense(10), on "
                        + "16×16×3 images, N = 16; zoo defaults w_std 1.5, b_std 0.05");
                case "cnn-wide" -> new Setting(name, "cnn(depth=3,channels=128,out=10)", "cnn", new int[] {8, 8, 3},
                        16, 1.5, 0.05, "3 × (conv 3×3 SAME, 128 channels, ReLU), global average pool, dense(10), on "
                        + "8×8×3 images, N = 16: a wide CNN, where the parameters outnumber the activations; zoo "
                        + "defaults w_std 1.5, b_std 0.05");
                default -> throw new IllegalArgumentException("--peer-settings: unknown setting '" + name
                        + "'; settings are " + NAMES);
            };
        }
    }

    /** One peer's outcome in one setting. */
    static final class Peer {
        final String name;
        String status = "not run";
        double[] seconds = new double[0];
        long peakBytes = -1;
        double relErr = Double.NaN;
        String detail = "";

        Peer(String name) {
            this.name = name;
        }

        boolean ran() {
            return status.equals("ran") && seconds.length > 0;
        }

        boolean counts() {
            return ran() && KernelAgreement.agrees(relErr);
        }

        double median() {
            return Timing.median(seconds);
        }
    }

    /** All measurements of one setting. */
    static final class Outcome {
        final Setting setting;
        final Map<Method, MethodRuns.Result> ntk4j = new EnumMap<>(Method.class);
        final List<Peer> peers = new ArrayList<>();
        long parameters;

        Outcome(Setting setting) {
            this.setting = setting;
        }

        MethodRuns.Result best() {
            MethodRuns.Result best = null;
            for (MethodRuns.Result r : ntk4j.values()) {
                if (r.ran() && KernelAgreement.agrees(Double.isNaN(r.relErrVsJc) ? 0 : r.relErrVsJc)
                        && (best == null || r.median() < best.median())) {
                    best = r;
                }
            }
            return best;
        }

        Peer bestPeer() {
            Peer best = null;
            for (Peer p : peers) {
                if (p.counts() && (best == null || p.median() < best.median())) {
                    best = p;
                }
            }
            return best;
        }
    }

    /** What the run found, as Markdown and CSV. */
    record Report(List<Outcome> outcomes, String environment, boolean agree) {
        String markdown() {
            StringBuilder sb = new StringBuilder("## Peers: PyTorch (functorch), DJL and hand-written NumPy, same "
                    + "run, same weights\n\n");
            sb.append(environment).append('\n');
            sb.append("Times are medians of the timed runs after the warm-up, each program's and method's runs "
                    + "back to back (ntk4j's after its methods' warm-up by time and one more untimed call, as each "
                    + "peer's process makes one); a peer's ratio is reported only when "
                    + "its kernel agrees with ntk4j's (relative Frobenius error ≤ " + KernelAgreement.TOLERANCE
                    + ", float32; the full kernel [N, N, O, O], x2 = x1).\n\n");
            for (Outcome o : outcomes) {
                Setting s = o.setting;
                sb.append("### ").append(s.name()).append(": `").append(s.spec()).append("`\n\n").append(s.note())
                        .append(String.format(Locale.ROOT, "; %d parameters.%n%n", o.parameters));
                sb.append("| program | method | median s | runs | peak memory | rel. error vs ntk4j | "
                        + "time / ntk4j's best | how |\n|---|---|---:|---:|---:|---:|---:|---|\n");
                MethodRuns.Result best = o.best();
                for (Method m : PaperFcnBench.METHODS) {
                    MethodRuns.Result r = o.ntk4j.get(m);
                    if (r == null) {
                        continue;
                    }
                    if (!r.ran()) {
                        sb.append("| ntk4j | ").append(m.shortName()).append(" | not run: ").append(r.skipped)
                                .append(" | | | | | |\n");
                        continue;
                    }
                    sb.append(String.format(Locale.ROOT, "| ntk4j | %s%s | %.4g | %d | %s | %s | %.2f× | |%n",
                            m.shortName(), r == best ? " (best)" : "", r.median(), r.seconds.size(),
                            CostModel.human(r.measuredPeak), Double.isNaN(r.relErrVsJc) ? "(reference)"
                                    : String.format(Locale.ROOT, "%.1e", r.relErrVsJc), r.median() / best.median()));
                }
                for (Peer p : o.peers) {
                    if (!p.ran()) {
                        sb.append("| ").append(peerProgram(p.name)).append(" | ").append(peerMethod(p.name))
                                .append(" | ").append(p.status).append(" | | | | | |\n");
                        continue;
                    }
                    sb.append(String.format(Locale.ROOT, "| %s | %s | %.4g | %d | %s | %.1e%s | %s | %s |%n",
                            peerProgram(p.name), peerMethod(p.name), p.median(), p.seconds.length,
                            p.peakBytes < 0 ? "n/a" : CostModel.human(p.peakBytes) + " (RSS)", p.relErr,
                            p.counts() ? "" : " **disagrees**", p.counts() && best != null
                                    ? String.format(Locale.ROOT, "**%.1f×**", p.median() / best.median()) : "—",
                            p.detail));
                }
                Peer bestPeer = o.bestPeer();
                if (best != null && bestPeer != null) {
                    double ratio = bestPeer.median() / best.median();
                    sb.append(String.format(Locale.ROOT, "%nntk4j's best (%s, %.4g s) against the best peer (%s, %.4g "
                            + "s): **%.1f×** %s.%n", best.method.shortName(), best.median(), bestPeer.name,
                            bestPeer.median(), ratio, ratio > 1 ? "faster" : "— ntk4j is **slower**"));
                }
                sb.append('\n');
            }
            return sb.toString();
        }

        Csv csv() {
            Csv csv = new Csv("setting", "spec", "program", "method", "status", "median_s", "times_s", "peak_bytes",
                    "rel_err_vs_ntk4j", "ratio_to_ntk4j_best");
            for (Outcome o : outcomes) {
                MethodRuns.Result best = o.best();
                for (Method m : PaperFcnBench.METHODS) {
                    MethodRuns.Result r = o.ntk4j.get(m);
                    if (r == null) {
                        continue;
                    }
                    csv.row(o.setting.name(), o.setting.spec(), "ntk4j", m.shortName(), r.ran() ? "ran" : r.skipped,
                            r.ran() ? r.median() : Double.NaN, join(r.times()), r.ran() ? r.measuredPeak : null,
                            r.relErrVsJc, r.ran() && best != null ? r.median() / best.median() : Double.NaN);
                }
                for (Peer p : o.peers) {
                    csv.row(o.setting.name(), o.setting.spec(), peerProgram(p.name), peerMethod(p.name), p.status,
                            p.ran() ? p.median() : Double.NaN, join(p.seconds), p.peakBytes < 0 ? null : p.peakBytes,
                            p.relErr, p.counts() && best != null ? p.median() / best.median() : Double.NaN);
                }
            }
            return csv;
        }
    }

    private static String peerProgram(String name) {
        return name.substring(0, name.indexOf(' '));
    }

    private static String peerMethod(String name) {
        return name.substring(name.indexOf(' ') + 1);
    }

    static String join(double[] v) {
        StringBuilder sb = new StringBuilder();
        for (double x : v) {
            sb.append(sb.length() > 0 ? " " : "").append(String.format(Locale.ROOT, "%.6g", x));
        }
        return sb.toString();
    }

    private final Options opt;
    private final BenchLog log;

    PeersBench(Options opt, BenchLog log) {
        this.opt = opt;
        this.log = log;
    }

    /** Runs every setting; the temporary directory of the peers' files is removed whatever happens. */
    Report run() throws IOException {
        String torch = torchAvailable(opt.install, opt.threads, log);
        Path dir = Files.createTempDirectory("ntk4j-peers");
        try {
            return run(dir, torch);
        } finally {
            deleteTreeQuietly(dir);
        }
    }

    private Report run(Path dir, String torch) throws IOException {
        StringBuilder env = new StringBuilder();
        String coretype = "";
        Path script = dir.resolve(SCRIPT);
        try (InputStream in = PeersBench.class.getResourceAsStream(SCRIPT)) {
            Files.copy(in, script);
        }
        if (torch != null) {
            coretype = fastestCoreType(opt.threads, log);
            env.append("- PyTorch: ").append(torch).append(", run by `").append(PYTHON).append("` with ")
                    .append(opt.threads).append(" threads").append(coretype.isEmpty() ? ", OPENBLAS_CORETYPE unset"
                            : ", OPENBLAS_CORETYPE=" + coretype).append(" (the fastest working choice, probed)\n");
        } else {
            env.append("- PyTorch: not available (python3-torch missing and not installed); its rows say so\n");
        }
        DjlPeer.configure(opt.threads);
        String djl;
        try {
            djl = DjlPeer.engineDescription();
            env.append("- ").append(djl).append(" (pytorch-native-cpu from the class path, ai.djl.offline=true), ")
                    .append(opt.threads).append(" threads\n");
        } catch (RuntimeException | LinkageError e) {
            djl = null;
            env.append("- DJL: failed to load its PyTorch engine offline: ").append(e).append('\n');
        }
        log.say("peers: %s", env.toString().replace("\n", "; "));
        List<Outcome> outcomes = new ArrayList<>();
        boolean agree = true;
        for (Setting setting : opt.settings) {
            Outcome o = measure(setting, dir, script, torch != null, coretype, djl != null);
            outcomes.add(o);
            for (MethodRuns.Result r : o.ntk4j.values()) {
                agree &= Double.isNaN(r.relErrVsJc) || KernelAgreement.agrees(r.relErrVsJc);
            }
            for (Peer p : o.peers) {
                agree &= !p.ran() || p.counts();
            }
        }
        return new Report(outcomes, env.toString(), agree);
    }

    private Outcome measure(Setting s, Path dir, Path script, boolean torch, String coretype, boolean djl)
            throws IOException {
        Outcome o = new Outcome(s);
        Model model = Zoo.parse(s.spec());
        int[] in = s.input();
        int[] xShape = new int[in.length + 1];
        xShape[0] = s.n();
        System.arraycopy(in, 0, xShape, 1, in.length);
        log.say("== peers, %s: %s on x %s float32, full kernel", s.name(), s.spec(), Arrays.toString(xShape));
        CostModel cm = new CostModel(model, in, DType.F32, s.n(), 0, new int[0], new int[0]);
        Path paramsFile = dir.resolve(s.name() + ".npz");
        Path xFile = dir.resolve(s.name() + "_x.npy");
        try (Params params = model.init(0, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 1, xShape)) {
            o.parameters = params.count();
            ParamsFile.save(params, paramsFile);
            Npy.write(xFile, x);
            // ntk4j: the cheap methods with the full repetitions, the expensive ones once (not at all in --quick)
            List<Method> cheap = new ArrayList<>();
            List<Method> expensive = new ArrayList<>();
            for (Method m : PaperFcnBench.METHODS) {
                MethodRuns.Result r = new MethodRuns.Result(m);
                r.estimate = cm.estimate(m);
                o.ntk4j.put(m, r);
                if (r.estimate.flops() <= opt.onceFlops) {
                    cheap.add(m);
                } else if (opt.quick) {
                    r.skipped = String.format(Locale.ROOT, "--quick skips methods predicted above %.0e FLOPs "
                            + "(%.2g)", opt.onceFlops, r.estimate.flops());
                } else {
                    expensive.add(m);
                }
            }
            EmpiricalNtk base = EmpiricalNtk.of(model, params).traceAxes();
            long held = params.count() * DType.F32.bytes() + x.bytes();
            MethodRuns.warmUpFor(base, x, cheap, o.ntk4j, opt.warmupSeconds, log);
            // each method's runs back to back, as each peer's process runs its own (one warm-up call, then the
            // timed ones): round-robin, every structured-derivatives call followed a Jacobian-contraction call,
            // whose memory traffic it paid for (the small cnn's SD 24.6-25.1 ms after JC against 22.0-24.3 ms
            // back to back, one JVM, Intel AVX-512), while PyTorch's timed calls each followed one of their own
            for (Method m : cheap) {
                MethodRuns.roundRobin(base, x, List.of(m), o.ntk4j, opt.warmup, opt.reps, held, log);
            }
            MethodRuns.roundRobin(base, x, expensive, o.ntk4j, Math.min(1, opt.warmup), 1, held, log);
            MethodRuns.verify(o.ntk4j, PaperFcnBench.METHODS, log);
            Tensor reference = o.best().kernel;
            for (String method : new String[] {"jc", "vp"}) {
                Peer p = new Peer("pytorch " + method);
                o.peers.add(p);
                if (!torch) {
                    p.status = "not run: python3-torch is not installed";
                    continue;
                }
                runTorch(p, s, method, script, paramsFile, xFile, dir, coretype, reference);
            }
            if (s.arch().equals("fcn")) {
                Peer np = new Peer("numpy per-layer-by-hand");
                o.peers.add(np);
                runNumpy(np, s, params, x, dir, reference);
            }
            Peer d = new Peer("djl backward-per-logit");
            o.peers.add(d);
            if (djl) {
                runDjl(d, s, params, x, reference);
            } else {
                d.status = "not run: DJL's PyTorch engine did not load";
            }
            for (MethodRuns.Result r : o.ntk4j.values()) {
                r.closeKernel();
            }
        }
        return o;
    }

    /**
     * The memory a peer may fill with Jacobians, cotangents or rows: the --peer-memory-gib budget, but at most
     * 60% of what the machine has available now (on a shared machine, more gets the peer killed by the kernel's
     * OOM killer — or, for DJL inside this JVM, the whole benchmark).
     */
    private double peerBudgetGiB() {
        long avail = Machine.memAvailableForPeers();
        return avail < 0 ? opt.memoryGiB : Math.min(opt.memoryGiB, 0.6 * avail / (double) (1L << 30));
    }

    private void runTorch(Peer p, Setting s, String method, Path script, Path paramsFile, Path xFile, Path dir,
                          String coretype, Tensor reference) throws IOException {
        double budget = peerBudgetGiB();
        List<String> cmd = new ArrayList<>(List.of(PYTHON, script.toString(), "--params", paramsFile.toString(), "--x",
                xFile.toString(), "--arch", s.arch(), "--w-std", String.valueOf(s.wStd()), "--b-std",
                String.valueOf(s.bStd()), "--method", method, "--threads", String.valueOf(opt.threads), "--warmup",
                String.valueOf(opt.warmup), "--reps", String.valueOf(opt.reps), "--memory-gib",
                String.format(Locale.ROOT, "%.3f", budget), "--out", dir.resolve(s.name()).toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", String.valueOf(opt.threads));
        pb.environment().put("OPENBLAS_NUM_THREADS", String.valueOf(opt.threads));
        peerEnvironment(pb);
        if (!coretype.isEmpty()) {
            pb.environment().put("OPENBLAS_CORETYPE", coretype);
        }
        Finished run = runProcess(pb, dir.resolve(s.name() + "_" + method + ".out"), opt.timeoutSeconds);
        if (run == null) {
            p.status = String.format(Locale.ROOT, "not finished within %d s (warm-up and timed runs), stopped",
                    opt.timeoutSeconds);
            log.say("  %s %s", p.name, p.status);
            return;
        }
        int rc = run.rc();
        String output = run.output();
        String json = lastJsonLine(output);
        if (rc != 0 || json == null) {
            p.status = "failed (exit " + rc + "): " + lastLine(output);
            log.say("  %s FAILED: %s", p.name, output.trim());
            return;
        }
        p.status = jsonString(json, "status");
        if (!p.status.equals("ran")) {
            log.say("  %s %s", p.name, p.status);
            return;
        }
        p.seconds = jsonNumbers(json, "seconds");
        p.peakBytes = (long) jsonNumbers(json, "peak_rss_above_baseline_bytes")[0];
        p.detail = jsonString(json, "variant") + String.format(Locale.ROOT, "; memory budget %.1f GiB", budget);
        try (Tensor k = Npy.readTensor(Path.of(jsonString(json, "kernel")), DType.F32)) {
            p.relErr = KernelAgreement.relativeError(k, reference);
        }
        log.say("  %s (%s): median %.4g s of %s, peak RSS +%s, relative error vs ntk4j %.2e%s", p.name, p.detail,
                p.median(), join(p.seconds), CostModel.human(p.peakBytes), p.relErr, p.counts() ? "" : " (DISAGREES)");
    }

    /** The hand-written NumPy FCN kernel ({@link NumpyPeer}), when an interpreter with NumPy is found. */
    private void runNumpy(Peer p, Setting s, Params params, Tensor x, Path dir, Tensor reference) {
        String python = NumpyPeer.findPython();
        if (python == null) {
            p.status = "not run: no python3 imports numpy";
            log.say("  %s %s", p.name, p.status);
            return;
        }
        try {
            NumpyPeer.Run run = NumpyPeer.run(python, dir, params, x, s.wStd(), s.bStd(), opt.threads, opt.warmup,
                    opt.reps);
            p.seconds = run.seconds();
            p.status = "ran";
            p.detail = run.numpy() + "; one forward pass, N·O stacked cotangents backwards, per layer (activation "
                    + "Gram) ⊙ (cotangent Gram)";
            try (Tensor k = run.kernel()) {
                p.relErr = KernelAgreement.relativeError(k, reference);
            }
            log.say("  %s (%s): median %.4g s of %s, relative error vs ntk4j %.2e%s", p.name, run.numpy(),
                    p.median(), join(p.seconds), p.relErr, p.counts() ? "" : " (DISAGREES)");
        } catch (IOException | RuntimeException e) {
            p.status = "failed: " + e.getMessage();
            log.say("  %s FAILED: %s", p.name, e.getMessage());
        }
    }

    private void runDjl(Peer p, Setting s, Params params, Tensor x, Tensor reference) {
        double budget = peerBudgetGiB();
        long out = lastDim(params);
        long exampleRows = out * params.count() * 4; // one example's O rows of P floats
        // two blocks of rows are held while they are contracted
        int block = (int) Math.min(s.n(), (long) (budget * (1L << 30) / (2.0 * exampleRows)));
        if (block < 1) {
            p.status = String.format(Locale.ROOT, "not run: one example's rows need %s, over the %.1f GiB budget",
                    CostModel.human(2 * exampleRows), budget);
            log.say("  %s %s", p.name, p.status);
            return;
        }
        try {
            DjlPeer.Run run = DjlPeer.run(s.arch(), params, x, s.wStd(), s.bStd(), opt.warmup, opt.reps, block);
            p.seconds = run.seconds();
            p.status = "ran";
            try (Tensor k = run.kernel()) {
                p.relErr = KernelAgreement.relativeError(k, reference);
            }
            p.detail = (block >= s.n() ? "all N·O rows at once (" + CostModel.human(s.n() * exampleRows) + ")"
                    : "rows in blocks of " + block + " examples (all at once: " + CostModel.human(s.n() * exampleRows)
                    + ")") + String.format(Locale.ROOT, "; memory budget %.1f GiB", budget);
            log.say("  %s (%s): median %.4g s of %s, relative error vs ntk4j %.2e%s", p.name, p.detail, p.median(),
                    join(p.seconds), p.relErr, p.counts() ? "" : " (DISAGREES)");
        } catch (RuntimeException | LinkageError e) {
            p.status = "failed: " + e;
            log.say("  %s FAILED: %s", p.name, e);
        }
    }

    private static long lastDim(Params params) {
        // the readout's output size O: the last dense layer's w is [fan_in, O]
        String last = null;
        int lastIndex = -1;
        for (String name : params.tensors().keySet()) {
            if (name.endsWith("_dense/w")) {
                int i = Integer.parseInt(name.substring(0, name.indexOf('_')));
                if (i > lastIndex) {
                    lastIndex = i;
                    last = name;
                }
            }
        }
        return last == null ? 1 : params.get(last).dim(1);
    }

    // ------------------------------------------------------------------ PyTorch's installation

    /**
     * "torch X (functorch|torch.func)" when /usr/bin/python3 imports torch; with {@code install}, apt-get installs it
     * and Debian's OpenBLAS when missing (the ResNet bench's peers too).
     */
    static String torchAvailable(boolean install, int threads, BenchLog log) {
        String probe = "import torch\ntry:\n    import torch.func\n    api = 'torch.func'\nexcept ImportError:\n"
                + "    import functorch\n    api = 'functorch ' + functorch.__version__\nprint('torch', "
                + "torch.__version__, '(' + api + ')')";
        String v = python(probe, Map.of(), threads);
        boolean openblas = Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"));
        if (v != null && openblas) {
            return v;
        }
        if (!install) {
            log.say("peers: %s; --no-install given, so nothing is installed", v == null
                    ? "python3-torch is not installed" : "Debian's OpenBLAS (libopenblas0-pthread) is not installed");
            return v;
        }
        // Debian's python3-torch calls the system BLAS (libblas.so.3); with only the reference BLAS installed it
        // runs its GEMMs many times slower, so the peer gets OpenBLAS too.
        List<String> packages = new ArrayList<>();
        if (v == null) {
            packages.add("python3-torch");
        }
        if (!openblas) {
            packages.add("libopenblas0-pthread");
        }
        log.say("peers: installing %s with apt-get (Debian's PyTorch and the BLAS it should use) ...",
                String.join(" ", packages));
        List<String> cmd = new ArrayList<>(List.of("apt-get", "install", "-y", "-q"));
        cmd.addAll(packages);
        if (run(List.of("apt-get", "update", "-q")) != 0 || run(cmd) != 0) {
            log.say("peers: apt-get failed (root and Debian's archive are needed); PyTorch %s", v == null
                    ? "is not measured" : "runs with the BLAS it has");
            return v;
        }
        v = python(probe, Map.of(), threads);
        log.say("peers: installed; %s", v == null ? "torch still does not import" : v);
        return v;
    }

    /**
     * The OPENBLAS_CORETYPE under which torch's float32 matmul is fastest here, "" for OpenBLAS's own detection:
     * each candidate runs in its own process, as a forced type the CPU lacks dies of an illegal instruction.
     */
    static String fastestCoreType(int threads, BenchLog log) {
        String probe = "import torch, time\ntorch.set_num_threads(" + threads + ")\n"
                + "a = torch.randn(1024, 1024); b = torch.randn(1024, 1024)\nfor _ in range(3): a @ b\n"
                + "t = time.perf_counter()\nfor _ in range(10): a @ b\n"
                + "print(2 * 1024 ** 3 * 10 / (time.perf_counter() - t) / 1e9)";
        String best = "";
        double bestRate = -1;
        StringBuilder seen = new StringBuilder();
        for (String type : new String[] {"", "SkylakeX", "Haswell", "Zen"}) {
            String r = python(probe, type.isEmpty() ? Map.of() : Map.of("OPENBLAS_CORETYPE", type), threads);
            double rate = -1;
            try {
                rate = r == null ? -1 : Double.parseDouble(r.trim());
            } catch (NumberFormatException e) {
                // not a number: that type does not work here
            }
            seen.append(String.format(Locale.ROOT, "%s%s %s", seen.length() > 0 ? ", " : "",
                    type.isEmpty() ? "(unset)" : type, rate < 0 ? "fails" : String.format(Locale.ROOT, "%.0f", rate)));
            if (rate > bestRate) {
                bestRate = rate;
                best = type;
            }
        }
        log.say("peers: torch 1024³ matmul GFLOP/s by OPENBLAS_CORETYPE: %s", seen);
        return best;
    }

    /**
     * The environment of a peer's process without what the launcher set for ntk4j alone: the OpenBLAS kernels it
     * chose on AMD family 25 ({@code OPENBLAS_CORETYPE=Haswell}, marked by {@code NTK4J_CHOSE_OPENBLAS_CORETYPE}),
     * so that "unset" means OpenBLAS's own detection for a peer (PyTorch's OpenBLAS ran slower with Haswell's
     * kernels here). A coretype the user set is passed on.
     *
     * @param pb the peer's process, before it starts
     */
    static void peerEnvironment(ProcessBuilder pb) {
        Map<String, String> env = pb.environment();
        if (env.remove("NTK4J_CHOSE_OPENBLAS_CORETYPE") != null) {
            env.remove("OPENBLAS_CORETYPE");
        }
    }

    /** A peer process that finished: its exit code and its standard output (with standard error if merged). */
    record Finished(int rc, String output) {
    }

    /**
     * Runs {@code pb} with its standard output to {@code outFile}, waiting at most {@code timeoutSeconds}; a process
     * that runs longer is stopped and null returned.
     */
    static Finished runProcess(ProcessBuilder pb, Path outFile, int timeoutSeconds) throws IOException {
        pb.redirectOutput(outFile.toFile());
        try {
            Process proc = pb.start();
            if (!proc.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                proc.destroyForcibly().waitFor();
                return null;
            }
            return new Finished(proc.exitValue(), Files.readString(outFile, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running the PyTorch peer", e);
        }
    }

    /** Whether {@link #PYTHON} imports {@code modules} (e.g. "torch, torchvision"). */
    static boolean pythonImports(String modules) {
        return pythonImports(PYTHON, modules);
    }

    /** Whether the interpreter {@code python} runs and imports {@code modules}; false when interrupted. */
    static boolean pythonImports(String python, String modules) {
        try {
            Process p = new ProcessBuilder(python, "-c", "import " + modules).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** stdout of /usr/bin/python3 -c code, or null when it cannot run or fails. */
    private static String python(String code, Map<String, String> env, int threads) {
        try {
            ProcessBuilder pb = new ProcessBuilder(PYTHON, "-c", code).redirectErrorStream(false);
            pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
            peerEnvironment(pb);
            pb.environment().putAll(env);
            pb.redirectError(ProcessBuilder.Redirect.DISCARD);
            Process p = pb.start();
            String outText = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            return p.exitValue() == 0 && !outText.isEmpty() ? outText : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static int run(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).inheritIO().start();
            return p.waitFor();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    // ------------------------------------------------------------------ the peer script's one-line JSON

    static String lastJsonLine(String output) {
        String found = null;
        for (String line : output.split("\n")) {
            String t = line.trim();
            if (t.startsWith("{") && t.endsWith("}")) {
                found = t;
            }
        }
        return found;
    }

    private static String lastLine(String output) {
        String[] lines = output.trim().split("\n");
        return lines[lines.length - 1];
    }

    /** The string value of a key in a flat JSON object (the script writes no escaped quotes in them). */
    static String jsonString(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        if (!m.find()) {
            throw new IllegalArgumentException("the peer's JSON has no string '" + key + "': " + json);
        }
        return m.group(1);
    }

    /** The number, or the numbers of a list, of a key in a flat JSON object. */
    static double[] jsonNumbers(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*(\\[[^\\]]*\\]|[-0-9.eE+]+)").matcher(json);
        if (!m.find()) {
            throw new IllegalArgumentException("the peer's JSON has no number '" + key + "': " + json);
        }
        String v = m.group(1);
        if (v.startsWith("[")) {
            String inner = v.substring(1, v.length() - 1).trim();
            return inner.isEmpty() ? new double[0]
                    : Arrays.stream(inner.split(",")).mapToDouble(t -> Double.parseDouble(t.trim())).toArray();
        }
        return new double[] {Double.parseDouble(v)};
    }

    /** Deletes a temporary directory tree, ignoring failures. */
    static void deleteTreeQuietly(Path dir) {
        try {
            deleteTree(dir);
        } catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
