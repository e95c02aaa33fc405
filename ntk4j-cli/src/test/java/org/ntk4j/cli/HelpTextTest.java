package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every command's --help shows defaults and one example, and the example parses. */
class HelpTextTest {
    @Test
    void everyCommandHasDefaultsAndAnExampleThatParses() {
        CommandLine top = new CommandLine(new Main());
        List<CommandLine> commands = new ArrayList<>();
        commands.add(top);
        for (Map.Entry<String, CommandLine> e : top.getSubcommands().entrySet()) {
            if (!e.getKey().equals("help")) {
                commands.add(e.getValue());
            }
        }
        assertThat(commands).as("ntk4j and its commands").hasSize(10);
        for (CommandLine c : commands) {
            String usage = c.getUsageMessage(CommandLine.Help.Ansi.OFF);
            assertThat(usage).as(c.getCommandName()).contains("Example:");
            boolean hasOptions = c.getCommandSpec().options().stream()
                    .anyMatch(o -> !o.usageHelp() && !o.versionHelp());
            if (hasOptions) {   // 'models' has none besides --help and --version
                assertThat(usage.toLowerCase(Locale.ROOT)).as(c.getCommandName()).contains("default");
            }
            String example = usage.substring(usage.indexOf("Example:") + "Example:".length()).trim().split("\n")[0];
            List<String> args = words(example);
            assertThat(args.get(0)).isEqualTo("ntk4j");
            // the example's command and options exist: it parses (a fresh instance: parsing fills the fields)
            new CommandLine(new Main()).parseArgs(args.subList(1, args.size()).toArray(new String[0]));
        }
    }

    /** train's description names the commands that read its checkpoints by --params-in: those that have it. */
    @Test
    void trainNamesTheCommandsWhoseParamsInReadsItsCheckpoints() {
        CommandLine top = new CommandLine(new Main());
        List<String> withParamsIn = new ArrayList<>();
        for (Map.Entry<String, CommandLine> e : top.getSubcommands().entrySet()) {
            if (e.getValue().getCommandSpec().findOption("--params-in") != null) {
                withParamsIn.add(e.getKey());
            }
        }
        assertThat(withParamsIn).containsExactly("kernel", "predict", "train");
        String description = String.join(" ", top.getSubcommands().get("train").getCommandSpec().usageMessage()
                .description());
        assertThat(description).contains("--params-in of kernel, predict and train and study --checkpoints read")
                .doesNotContain("every command");
    }

    /** Splits a shell line into words; single quotes group. */
    private static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (char ch : line.toCharArray()) {
            if (ch == '\'') {
                quoted = !quoted;
                any = true;
            } else if (ch == ' ' && !quoted) {
                if (any) {
                    out.add(w.toString());
                }
                w.setLength(0);
                any = false;
            } else {
                w.append(ch);
                any = true;
            }
        }
        if (any) {
            out.add(w.toString());
        }
        return out;
    }
}
