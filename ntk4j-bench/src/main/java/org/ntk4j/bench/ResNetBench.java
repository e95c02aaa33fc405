package org.ntk4j.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ntk4j.cpu.Blas;
import org.ntk4j.cpu.Layout;
import org.ntk4j.io.AtomicFile;
import org.ntk4j.io.Npy;
import org.ntk4j.io.Npz;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.ResNets;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./ntk4j bench resnet}: neural-tangents' {@code empirical_ntk_resnet} notebook settings on torchvision's
 * ImageNet ResNets, full kernels ({@code trace_axes=()}), float32: ResNet-18 on 224×224×3 at (O = 8, N = 8),
 * (O = 128, N = 1) and (O = 1000, N = 1), and ResNet-50 at (O = 8, N = 8). Every ntk4j method whose predicted peak
 * fits the memory budget runs, plus AUTO, round-robin; each reports seconds, predicted FLOPs, measured and
 * predicted peak memory, the achieved rate and its share of the machine's SGEMM rate (measured in the same run).
 * Side by side, on the same weights (written in torchvision's names and layouts) and inputs, PyTorch's functorch
 * Jacobian contraction and NTK-vector products on torchvision's model in eval mode
 * ({@code torch_resnet_peer.py}), or "out of memory" where its estimate exceeds the peer budget. A setting that
 * nothing fits reports so and the run goes on. AUTO is not run again when it chooses the plan of a method that
 * runs in the same setting (its row points to that one). A second table sets each setting's fastest ntk4j runner
 * beside PyTorch's fastest.
 */
final class ResNetBench {
    private static final String SCRIPT = "torch_resnet_peer.py";
    private static final String HELPER = "torch_ntk_peer.py";
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES, Method.AUTO};

    /** The options: picocli's, checked (every setting's model built) before the run ({@link BenchCli}). */
    @Command(name = "ntk4j bench resnet", abbreviateSynopsis = true, sortOptions = false,
            description = {"neural-tangents' empirical_ntk_resnet settings on torchvision's ResNets, full kernels, "
                + "float32: every ntk4j method whose predicted peak fits the budget, plus AUTO, beside PyTorch's "
                + "functorch JC and NTK-VP.",
                "Writes resnet.md in --out; an existing one is refused unless --overwrite.", ""})
    static final class Options implements BenchCli.Bench {
        static final String SETTINGS = "resnet18:8:8,resnet18:128:1,resnet18:1000:1,resnet50:8:8";

        @Option(names = "--settings", split = ",", paramLabel = "ARCH:O:N", description = "the settings "
                + "(default " + SETTINGS + "); ARCH is " + Setting.ARCHS)
        List<String> settingsGiven;
        List<Setting> settings;
        @Option(names = "--size", paramLabel = "S", description = "input S×S×3 (default ${DEFAULT-VALUE})")
        int size = 224;
        @Option(names = "--budget-gib", paramLabel = "G", description = "ntk4j's memory budget: methods predicted "
                + "above it are not run (default 80%% of JavaCPP's maxBytes)")
        double budgetGiB = EmpiricalNtk.defaultMemoryBudget() / (double) (1L << 30);
        @Option(names = "--peer-memory-gib", paramLabel = "G", description = "PyTorch's budget, at most 75%% of the "
                + "memory available (default ${DEFAULT-VALUE})")
        double peerMemoryGiB = 16;
        @Option(names = "--warmup", paramLabel = "W", description = "untimed rounds (default ${DEFAULT-VALUE})")
        int warmup = 0;
        @Option(names = "--reps", paramLabel = "R", description = "timed rounds (default ${DEFAULT-VALUE})")
        int reps = 1;
        @Option(names = "--threads", paramLabel = "T", description = "BLAS and PyTorch threads (default "
                + "${DEFAULT-VALUE})")
        int threads = 2;
        @Option(names = "--no-peers", description = "ntk4j only")
        boolean noPeers;
        boolean peers = true;
        @Option(names = "--no-install", description = "do not apt-get install python3-torch or Debian's OpenBLAS "
                + "when missing (without OpenBLAS Debian's PyTorch runs on the reference BLAS)")
        boolean noInstall;
        boolean install = true;
        @Option(names = "--timeout", paramLabel = "S", description = "a PyTorch run longer than this is stopped "
                + "(default ${DEFAULT-VALUE})")
        int timeoutSeconds = 1800;
        @Option(names = "--max-gflop", paramLabel = "G", description = "methods predicted above G GFLOP are not run,"
                + " nor PyTorch's recipe of the same algorithm (jc, vp) when ntk4j's prediction for it is (default: "
                + "no limit)")
        double maxGflop = Double.POSITIVE_INFINITY;
        @Option(names = "--out", paramLabel = "DIR", description = "where resnet.md goes, created if missing "
                + "(default: target/bench-resnet of the repository)")
        Path out = BenchCli.root().resolve(Path.of("target", "bench-resnet"));
        @Mixin
        BenchCli.Overwrite overwrite = new BenchCli.Overwrite();
        @Mixin
        BenchCli.Help help = new BenchCli.Help();

        @Override
        public void check(CommandLine.ParseResult given) throws IOException {
            BenchCli.notWith(given, "--no-peers", "ntk4j only, no PyTorch", "--peer-memory-gib", "--no-install",
                    "--timeout");
            peers = !noPeers;
            install = !noInstall;
            BenchCli.positive("--size", size);
            BenchCli.positive("--budget-gib", budgetGiB);
            BenchCli.positive("--peer-memory-gib", peerMemoryGiB);
            BenchCli.nonNegative("--warmup", warmup);
            BenchCli.positive("--reps", reps);
            BenchCli.positive("--threads", threads);
            BenchCli.positive("--timeout", timeoutSeconds);
            if (given.hasMatchedOption("--max-gflop")) {
                BenchCli.positive("--max-gflop", maxGflop);
            }
            settings = new ArrayList<>();
            for (String text : settingsGiven != null ? settingsGiven : List.of(SETTINGS.split(","))) {
                Setting s = Setting.parse(text);
                try {
                    new CostModel(s.model(), new int[] {size, size, 3}, DType.F32, s.n(), 0, new int[0], new int[0]);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--settings " + text.trim() + " at --size " + size + ": "
                            + e.getMessage(), e);
                }
                settings.add(s);
            }
            BenchCli.checkOutputs(overwrite.overwrite, out, "resnet", ".md");
        }

        @Override
        public int run(String[] args) throws IOException {
            new ResNetBench(this).run();
            return 0;
        }
    }

    /** One setting: the network, O and N. */
    record Setting(String arch, int out, int n) {
        /** The networks the bench and its PyTorch peer build (torchvision's names). */
        static final String ARCHS = "resnet18|resnet34|resnet50|wide_resnet50_2";

        /**
         * Parses {@code ARCH:O:N}.
         *
         * @throws IllegalArgumentException naming {@code --settings}: not three fields, an ARCH not of
         *     {@link #ARCHS}, O or N not a positive integer
         */
        static Setting parse(String text) {
            String[] f = text.trim().split(":", -1);
            if (f.length != 3) {
                throw new IllegalArgumentException("--settings: expected ARCH:O:N (e.g. resnet18:8:8), got '" + text
                        + "'");
            }
            if (!List.of(ARCHS.split("\\|")).contains(f[0])) {
                throw new IllegalArgumentException("--settings: expected ARCH " + ARCHS + ", got '" + f[0] + "' in '"
                        + text.trim() + "'");
            }
            int[] v = new int[2];
            for (int i = 0; i < 2; i++) {
                try {
                    v[i] = Integer.parseInt(f[i + 1].trim());
                } catch (NumberFormatException e) {
                    v[i] = 0;
                }
                if (v[i] < 1) {
                    throw new IllegalArgumentException("--settings: expected a positive integer " + (i == 0 ? "O"
                            : "N") + ", got '" + f[i + 1] + "' in '" + text.trim() + "'");
                }
            }
            return new Setting(f[0], v[0], v[1]);
        }

        Model model() {
            return Zoo.parse(arch + "(out=" + out + ")");
        }

        int depth() {
            return arch.equals("wide_resnet50_2") ? 50 : Integer.parseInt(arch.substring("resnet".length()));
        }

        String label() {
            return arch + ", O = " + out + ", N = " + n;
        }
    }

    /** A peer's outcome. */
    static final class PeerRun {
        final String name;
        String status = "not run";
        double[] seconds = new double[0];
        long peakBytes = -1;
        double relErr = Double.NaN;

        PeerRun(String name) {
            this.name = name;
        }

        double median() {
            return Timing.median(seconds);
        }
    }

    private final Options opt;
    private final BenchLog log = new BenchLog();
    private final StringBuilder table = new StringBuilder();
    /** Each setting's fastest ntk4j runner beside PyTorch's fastest. */
    private final StringBuilder best = new StringBuilder();
    private double sgemmGflops;
    /** The OPENBLAS_CORETYPE under which PyTorch's matmul ran fastest ("" for OpenBLAS's own choice). */
    private String coretype = "";

    ResNetBench(Options opt) {
        this.opt = opt;
    }

    /**
     * Runs the benchmark.
     *
     * @param args the options ({@code --help})
     */
    static void main(String[] args) {
        System.exit(BenchCli.execute(new Options(), args));
    }

    void run() throws IOException {
        Blas.setThreads(opt.threads);
        log.say("ntk4j bench resnet, %s; %d BLAS threads, budget %.1f GiB, load %s", Machine.now(), opt.threads,
                opt.budgetGiB, Machine.loadAverage());
        sgemmGflops = SgemmRate.measure(2048, 1, 3).bestGflops();
        log.say("SGEMM 2048³: %.1f GFLOP/s (best of 3)", sgemmGflops);
        Path dir = Files.createTempDirectory("ntk4j-resnet");
        try {
            run(dir);
        } finally {
            PeersBench.deleteTreeQuietly(dir);
        }
    }

    private void run(Path dir) throws IOException {
        Path script = dir.resolve(SCRIPT);
        for (String name : new String[] {SCRIPT, HELPER}) {
            try (InputStream in = ResNetBench.class.getResourceAsStream(name)) {
                Files.copy(in, dir.resolve(name));
            }
        }
        if (opt.peers) {
            // Debian's PyTorch on the reference BLAS is many times slower: it gets OpenBLAS like the other peers
            PeersBench.torchAvailable(opt.install, opt.threads, log);
        }
        boolean torch = opt.peers && PeersBench.pythonImports("torch, torchvision");
        coretype = torch ? PeersBench.fastestCoreType(opt.threads, log) : "";
        if (opt.peers && !torch) {
            log.say("peers: %s cannot import torch and torchvision (apt-get install python3-torch "
                    + "python3-torchvision); their rows say so", PeersBench.PYTHON);
        }
        table.append("| setting | runner | seconds | predicted GFLOP | counted | peak (measured / predicted) | "
                + "GFLOP/s | of SGEMM | rel. error |\n|---|---|---|---|---|---|---|---|---|\n");
        best.append("| setting | ntk4j's best | seconds | PyTorch's best | seconds | speed-up |\n"
                + "|---|---|---:|---|---:|---:|\n");
        for (Setting s : opt.settings) {
            measure(s, dir, script, torch);
        }
        Files.createDirectories(opt.out);
        String report = "# ntk4j bench resnet\n\nGenerated on " + Machine.now() + " (" + Machine.cpuModel() + ", "
                + Machine.memTotal() + "), " + opt.threads + " threads, inputs " + opt.size + "×" + opt.size
                + "×3 float32, full kernels; SGEMM " + String.format(Locale.ROOT, "%.1f", sgemmGflops)
                + " GFLOP/s.\n\n" + table + "\n" + best + "\n## Log\n\n```text\n" + log.text() + "```\n";
        AtomicFile.writeString(opt.out.resolve("resnet.md"), report);
        System.out.println();
        System.out.print(table);
        System.out.println();
        System.out.print(best);
        System.out.println("\nwritten: " + opt.out.resolve("resnet.md"));
    }

    private void measure(Setting s, Path dir, Path script, boolean torch) throws IOException {
        Model model = s.model();
        int[] in = {opt.size, opt.size, 3};
        long budget = (long) (opt.budgetGiB * (1L << 30));
        log.say("== %s: %s, x [%d, %d, %d, 3] float32, full kernel [%d, %d, %d, %d]", s.label(), model.spec(), s.n(),
                opt.size, opt.size, s.n(), s.n(), s.out(), s.out());
        CostModel cm = new CostModel(model, in, DType.F32, s.n(), 0, new int[0], new int[0]);
        Map<Method, MethodRuns.Result> results = new EnumMap<>(Method.class);
        List<Method> running = new ArrayList<>();
        for (Method m : METHODS) {
            MethodRuns.Result r = new MethodRuns.Result(m);
            results.put(m, r);
            try {
                r.estimate = m == Method.AUTO ? cm.choose(budget) : cm.estimate(m, budget);
            } catch (IllegalArgumentException e) {
                r.skipped = "no estimate: " + e.getMessage();
            }
            if (r.skipped == null && r.estimate == null) {
                r.skipped = "nothing fits the " + CostModel.human(budget) + " budget";
            } else if (r.skipped == null && r.estimate.peakBytes() == Long.MAX_VALUE) {
                r.skipped = "not run: " + r.estimate.note();
            } else if (r.skipped == null && r.estimate.peakBytes() > budget) {
                r.skipped = "out of memory: predicted peak " + CostModel.human(r.estimate.peakBytes()) + " exceeds the "
                        + CostModel.human(budget) + " budget";
            } else if (r.skipped == null && r.estimate.flops() / 1e9 > opt.maxGflop) {
                r.skipped = String.format(Locale.ROOT, "not run: predicted %.4g GFLOP, above --max-gflop %.4g",
                        r.estimate.flops() / 1e9, opt.maxGflop);
            }
            if (m == Method.AUTO && r.skipped == null && running.contains(r.estimate.method())
                    && results.get(r.estimate.method()).estimate == r.estimate) {
                r.skipped = "= ntk4j " + r.estimate.method().shortName()
                        + ": AUTO's choice, the same plan (not run twice)";
            }
            if (r.skipped != null) {
                log.say("  %-4s %s%s", m.shortName(), r.skipped, r.estimate == null ? ""
                        : String.format(Locale.ROOT, " (predicted %.3g FLOPs)", r.estimate.flops()));
            } else {
                log.say("  %-4s predicted %.3g FLOPs, peak %s%s", m.shortName(), r.estimate.flops(),
                        CostModel.human(r.estimate.peakBytes()), m == Method.AUTO ? " (chooses "
                        + r.estimate.method().shortName() + ")" : "");
                running.add(m);
            }
        }
        Path paramsFile = dir.resolve(s.arch() + "_" + s.out() + ".npz");
        Path xFile = dir.resolve(s.arch() + "_" + s.out() + "_x.npy");
        List<PeerRun> peers = new ArrayList<>();
        try (Params p = model.init(0, in, DType.F32);
             Tensor x = Tensor.randomNormal(DType.F32, 1, s.n(), opt.size, opt.size, 3)) {
            EmpiricalNtk base = EmpiricalNtk.of(model, p).traceAxes().memoryBudget(budget);
            long held = p.count() * DType.F32.bytes() + x.bytes();
            MethodRuns.roundRobin(base, x, running, results, opt.warmup, opt.reps, held, log);
            MethodRuns.verify(results, METHODS, log);
            Tensor reference = null;
            for (Method m : METHODS) {
                if (results.get(m).kernel != null) {
                    reference = results.get(m).kernel;
                    break;
                }
            }
            for (String method : new String[] {"jc", "vp"}) {
                PeerRun pr = new PeerRun("pytorch " + method);
                peers.add(pr);
                if (!opt.peers) {
                    pr.status = "not run: --no-peers";
                } else if (!torch) {
                    pr.status = "not run: torch or torchvision missing";
                } else if (peerFlops(cm, method) / 1e9 > opt.maxGflop
                        && peerFlops(cm, method) < Double.POSITIVE_INFINITY) {
                    // (ntk4j's untiled count is infinite where a tensor would exceed 2^31 - 1 bytes: the peer
                    // runs and judges its own memory)
                    pr.status = String.format(Locale.ROOT, "not run: the same algorithm is predicted %.4g GFLOP "
                            + "(ntk4j's count), above --max-gflop %.4g", peerFlops(cm, method) / 1e9, opt.maxGflop);
                    log.say("  %s %s", pr.name, pr.status);
                } else {
                    if (!Files.exists(paramsFile)) {
                        writeTorchvisionWeights(s, p, paramsFile);
                        Npy.write(xFile, x);
                    }
                    runPeer(pr, s, method, script, paramsFile, xFile, dir, reference);
                }
            }
            for (MethodRuns.Result r : results.values()) {
                r.closeKernel();
            }
        }
        for (Method m : METHODS) {
            MethodRuns.Result r = results.get(m);
            String name = "ntk4j " + m.shortName() + (m == Method.AUTO && r.estimate != null ? " ("
                    + r.estimate.method().shortName() + ")" : "");
            if (!r.ran()) {
                // an estimate that cannot run untiled has infinite FLOPs and peak: shown as "–"
                boolean known = r.estimate != null && r.estimate.peakBytes() != Long.MAX_VALUE;
                row(s, name, r.skipped == null ? "not run" : r.skipped,
                        known ? String.format(Locale.ROOT, "%.4g", r.estimate.flops() / 1e9) : "", "",
                        known ? "– / " + CostModel.human(r.estimate.peakBytes()) : "", "", "", "");
                continue;
            }
            double gflops = r.estimate.flops() / r.median() / 1e9;
            row(s, name, String.format(Locale.ROOT, "%.3g", r.median()),
                    String.format(Locale.ROOT, "%.4g", r.estimate.flops() / 1e9),
                    r.counted == Math.round(r.estimate.flops()) ? "= predicted"
                            : String.format(Locale.ROOT, "%.4g", r.counted / 1e9),
                    CostModel.human(r.measuredPeak) + " / " + CostModel.human(r.estimate.peakBytes()),
                    String.format(Locale.ROOT, "%.1f", gflops),
                    String.format(Locale.ROOT, "%.0f%%", 100 * gflops / sgemmGflops),
                    Double.isNaN(r.relErrVsJc) ? "" : String.format(Locale.ROOT, "%.1e", r.relErrVsJc));
        }
        for (PeerRun pr : peers) {
            if (!pr.status.equals("ran")) {
                row(s, pr.name, pr.status, "", "", "", "", "", "");
            } else {
                row(s, pr.name, String.format(Locale.ROOT, "%.3g", pr.median()), "", "",
                        "RSS +" + CostModel.human(pr.peakBytes), "", "",
                        Double.isNaN(pr.relErr) ? "" : String.format(Locale.ROOT, "%.1e", pr.relErr));
            }
        }
        bestRow(s, results, peers);
    }

    /** The row of the second table: the fastest ntk4j runner and the fastest PyTorch recipe that finished. */
    private void bestRow(Setting s, Map<Method, MethodRuns.Result> results, List<PeerRun> peers) {
        MethodRuns.Result mine = null;
        for (MethodRuns.Result r : results.values()) {
            if (r.ran() && (mine == null || r.median() < mine.median())) {
                mine = r;
            }
        }
        PeerRun theirs = null;
        for (PeerRun pr : peers) {
            if (pr.status.equals("ran") && (theirs == null || pr.median() < theirs.median())) {
                theirs = pr;
            }
        }
        best.append("| ").append(s.label()).append(" | ")
                .append(mine == null ? "none ran" : "ntk4j " + mine.method.shortName()).append(" | ")
                .append(mine == null ? "" : String.format(Locale.ROOT, "%.3g", mine.median())).append(" | ")
                .append(theirs == null ? "none finished" : theirs.name).append(" | ")
                .append(theirs == null ? "" : String.format(Locale.ROOT, "%.3g", theirs.median())).append(" | ")
                .append(mine == null || theirs == null ? "" : String.format(Locale.ROOT, "%.1f×",
                        theirs.median() / mine.median())).append(" |\n");
    }

    /** ntk4j's predicted FLOPs of the algorithm a PyTorch recipe runs (jc or vp). */
    private static double peerFlops(CostModel cm, String method) {
        try {
            return cm.estimate(method.equals("jc") ? Method.JACOBIAN_CONTRACTION : Method.NTK_VECTOR_PRODUCTS).flops();
        } catch (IllegalArgumentException e) {
            return Double.POSITIVE_INFINITY;
        }
    }

    private void row(Setting s, String runner, String seconds, String flops, String counted, String peak, String rate,
                     String share, String err) {
        table.append("| ").append(s.label()).append(" | ").append(runner).append(" | ").append(seconds).append(" | ")
                .append(flops).append(" | ").append(counted).append(" | ").append(peak).append(" | ").append(rate)
                .append(" | ").append(share).append(" | ").append(err).append(" |\n");
    }

    /** The parameters and buffers in torchvision's state_dict names and layouts (OIHW, fc.weight [out, in]). */
    static void writeTorchvisionWeights(Setting s, Params p, Path file) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, String> e : ResNets.torchvisionKeys(s.depth(), true).entrySet()) {
                Tensor t = p.tensors().containsKey(e.getKey()) ? p.tensors().get(e.getKey())
                        : p.buffers().get(e.getKey());
                if (t == null) {
                    throw new IllegalStateException("no parameter or buffer " + e.getKey());
                }
                out.put(e.getValue(), t.rank() == 4 ? hwioToOihw(t) : t.rank() == 2 ? transpose(t) : t.copy());
            }
            Npz.write(file, out);
        } finally {
            out.values().forEach(Tensor::close);
        }
    }

    /** OIHW[o, i, h, w] = HWIO[h, w, i, o]. */
    static Tensor hwioToOihw(Tensor t) {
        return Layout.transpose(t, new int[] {3, 2, 0, 1});
    }

    /** [c, r] = [r, c]ᵀ. */
    static Tensor transpose(Tensor t) {
        return Layout.transpose(t, new int[] {1, 0});
    }


    /** The peer budget: --peer-memory-gib, at most 75% of the memory available now. */
    private double peerBudgetGiB() {
        long avail = Machine.memAvailableForPeers();
        return avail < 0 ? opt.peerMemoryGiB : Math.min(opt.peerMemoryGiB, 0.75 * avail / (double) (1L << 30));
    }

    private void runPeer(PeerRun pr, Setting s, String method, Path script, Path paramsFile, Path xFile, Path dir,
                         Tensor reference) throws IOException {
        double budget = peerBudgetGiB();
        List<String> cmd = List.of(PeersBench.PYTHON, script.toString(), "--params", paramsFile.toString(), "--x",
                xFile.toString(), "--arch", s.arch(), "--out-dim", String.valueOf(s.out()), "--method", method,
                "--threads", String.valueOf(opt.threads), "--warmup", String.valueOf(opt.warmup), "--reps",
                String.valueOf(opt.reps), "--memory-gib", String.format(Locale.ROOT, "%.3f", budget), "--out",
                dir.resolve("peer").toString());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        PeersBench.peerEnvironment(pb);
        pb.environment().put("OMP_NUM_THREADS", String.valueOf(opt.threads));
        pb.environment().put("OPENBLAS_NUM_THREADS", String.valueOf(opt.threads));
        if (!coretype.isEmpty()) {
            pb.environment().put("OPENBLAS_CORETYPE", coretype);
        }
        PeersBench.Finished run = PeersBench.runProcess(pb, dir.resolve("peer_" + method + ".out"),
                opt.timeoutSeconds);
        if (run == null) {
            pr.status = "not finished within " + opt.timeoutSeconds + " s, stopped";
            log.say("  %s %s", pr.name, pr.status);
            return;
        }
        int rc = run.rc();
        String output = run.output();
        String json = PeersBench.lastJsonLine(output);
        if (rc != 0 || json == null) {
            // killed by the kernel's OOM killer (exit 137) is the machine running out of memory
            pr.status = rc == 137 || rc == -9 ? "out of memory (killed)" : "failed (exit " + rc + ")";
            log.say("  %s %s: %s", pr.name, pr.status, output.trim());
            return;
        }
        pr.status = PeersBench.jsonString(json, "status");
        if (!pr.status.equals("ran")) {
            log.say("  %s %s", pr.name, pr.status);
            return;
        }
        pr.seconds = PeersBench.jsonNumbers(json, "seconds");
        pr.peakBytes = (long) PeersBench.jsonNumbers(json, "peak_rss_above_baseline_bytes")[0];
        if (reference != null) {
            try (Tensor k = Npy.readTensor(Path.of(PeersBench.jsonString(json, "kernel")), DType.F32)) {
                pr.relErr = KernelAgreement.relativeError(k, reference);
            }
        }
        log.say("  %s (%s): median %.4g s, peak RSS +%s, relative error vs ntk4j %.2e", pr.name,
                PeersBench.jsonString(json, "variant"), pr.median(), CostModel.human(pr.peakBytes), pr.relErr);
    }
}
