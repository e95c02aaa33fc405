package org.ntk4j.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;

/**
 * {@code ./ntk4j bench gemm}: the command line of {@link GemmReport}, checked before JMH starts — {@code --rounds},
 * {@code --out} (an existing file refused unless {@code --overwrite}) and JMH's own options, which JMH parses here
 * first — then handed to it unchanged.
 */
final class GemmBench {
    private GemmBench() {
    }

    /** The options: GemmReport's two, {@code --overwrite}, and JMH's, passed through. */
    @Command(name = "ntk4j bench gemm", abbreviateSynopsis = true, sortOptions = false,
            description = {"dot_general against direct cblas_sgemm through JMH (GemmReport): time per op, GFLOP/s and "
                + "the acceptance ratios, as a Markdown table.",
                "Other arguments go to JMH as on its own command line (-f 2 -wi 3 -i 5 -w 1s -r 1s, a benchmark "
                + "regex; JMH's list: java -jar ntk4j-bench/target/benchmarks.jar -h).", ""})
    static final class Options implements BenchCli.Bench {
        @Option(names = "--rounds", paramLabel = "R", description = "repeat the whole JMH run R times, one table per "
                + "round (default ${DEFAULT-VALUE})")
        int rounds = 1;
        @Option(names = "--out", paramLabel = "FILE", description = "also write the report to FILE, a .md (default: "
                + "printed only)")
        Path out;
        @Mixin
        BenchCli.Overwrite overwrite = new BenchCli.Overwrite();
        @Mixin
        BenchCli.Help help = new BenchCli.Help();
        @Unmatched
        List<String> jmh = new ArrayList<>();
        /** GemmReport's own command line, which its report shows: the options given, then JMH's. */
        final List<String> report = new ArrayList<>();

        @Override
        public void check(CommandLine.ParseResult given) throws IOException {
            BenchCli.positive("--rounds", rounds);
            BenchCli.onlyWith(given, out != null, "--out", "--overwrite");
            if (out != null) {
                BenchCli.checkOutput("--out", out, ".md", overwrite.overwrite);
            }
            if (given.hasMatchedOption("--rounds")) {
                report.addAll(List.of("--rounds", String.valueOf(rounds)));
            }
            if (out != null) {
                report.addAll(List.of("--out", out.toString()));
            }
            report.addAll(jmh);
            try {
                new CommandLineOptions(jmh.toArray(new String[0]));
            } catch (CommandLineOptionException e) {
                throw new IllegalArgumentException("JMH options " + String.join(" ", jmh) + ": "
                        + e.getMessage().strip().replaceAll("\\s*\\R\\s*", " "), e);
            }
        }

        @Override
        public int run(String[] args) throws Exception {
            GemmReport.main(report.toArray(new String[0]));
            return 0;
        }
    }
}
