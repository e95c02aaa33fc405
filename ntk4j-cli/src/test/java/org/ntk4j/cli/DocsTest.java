package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The documentation cannot drift: every fenced code block of README.md and docs/*.md is checked, by the
 * convention written in docs/contributing.md ("Documentation and its test"):
 *
 * <ul>
 * <li>{@code console}: {@code $ ./ntk4j ...} commands, each followed by its output. Run in-process; exit code 0
 * and stdout must equal the shown output, where {@code …} inside a line matches any text and a line that is
 * only {@code …} matches any number of lines. Preceded by {@code <!-- recorded: YYYY-MM-DD, what -->}: the
 * output is a recorded run, and the commands are only parsed.</li>
 * <li>{@code bash}: shell commands, never run. {@code ./ntk4j} commands are parsed by picocli
 * ({@code ./ntk4j bench NAME} against the bench module's sources); scripts and Java classes named must exist;
 * other programs must be on a short known list.</li>
 * <li>{@code synopsis}: usage lines of {@code ./ntk4j} commands with placeholders; the command and every
 * {@code --option} named must exist.</li>
 * <li>{@code java}: compiled against the test class path. A block without a top-level type is a statement
 * snippet, wrapped in a method whose parameters are the declarations of a preceding
 * {@code <!-- given: Type name; Type name -->}; every ntk4j package is imported.</li>
 * <li>{@code text}: output or listings that hold no command.</li>
 * <li>{@code xml}: Maven snippets; well-formed, and an {@code org.ntk4j} dependency names a module of this
 * repository at its version.</li>
 * </ul>
 *
 * <p>The command lines of {@code console} and {@code bash} blocks hold no character the shell reads as syntax
 * outside quotes ({@code ( ) | ; < > &}): a reader pastes them into bash.
 *
 * <p>Any other block, an indented fence, or an unclosed one fails the test. And every relative link of the
 * repository's Markdown files reaches a file and, with a fragment, a heading.
 */
class DocsTest {
    private static final Pattern RECORDED = Pattern.compile("<!-- recorded: (\\d{4}-\\d{2}-\\d{2}), (.+) -->");
    private static final Pattern GIVEN = Pattern.compile("<!-- given: (.+) -->");
    private static final Set<String> LANGUAGES = Set.of("console", "bash", "synopsis", "java", "text", "xml");
    private static final Set<String> BENCHES = Set.of("paper-fcn", "methods", "pntk", "gemm", "numpy", "train-mlp",
            "resnet", "plans", "conv");
    /** Characters bash reads as syntax outside quotes, which no command line shown in the docs may hold bare. */
    private static final String SHELL_SYNTAX = "()|;<>&";
    /** Programs a bash block may call besides ./ntk4j, bash, python3, java and spark-submit (checked further). */
    private static final Set<String> PLAIN_PROGRAMS = Set.of("mvn", "git", "cd", "apt-get", "ls", "export");

    private static Path root;
    private static List<Block> blocks;

    record Block(Path file, int line, String language, List<String> body, String recorded, String given) {
        String where() {
            return root.relativize(file) + ":" + line;
        }
    }

    @BeforeAll
    static void readDocs() throws IOException {
        String property = System.getProperty("ntk4j.repoRoot");
        root = (property != null ? Path.of(property) : Path.of("..")).toAbsolutePath().normalize();
        assertThat(root.resolve("README.md")).as("repository root %s", root).exists();
        List<Path> files = new ArrayList<>();
        files.add(root.resolve("README.md"));
        try (Stream<Path> docs = Files.walk(root.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        blocks = new ArrayList<>();
        for (Path file : files) {
            blocks.addAll(parse(file));
        }
    }

    static List<Block> parse(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<Block> found = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (!line.strip().startsWith("```")) {
                continue;
            }
            String where = file + ":" + (i + 1);
            assertThat(line).as("%s: fences start at column 0", where).startsWith("```");
            String language = line.substring(3).strip();
            assertThat(LANGUAGES).as("%s: a block of unknown kind '%s' (see DocsTest)", where, language)
                    .contains(language);
            String recorded = null;
            String given = null;
            for (int j = i - 1; j >= 0 && lines.get(j).startsWith("<!--"); j--) {
                Matcher r = RECORDED.matcher(lines.get(j));
                Matcher g = GIVEN.matcher(lines.get(j));
                if (r.matches()) {
                    recorded = r.group(1) + ", " + r.group(2);
                } else if (g.matches()) {
                    given = g.group(1);
                }
            }
            int end = i + 1;
            while (end < lines.size() && !lines.get(end).strip().startsWith("```")) {
                end++;
            }
            assertThat(end).as("%s: unclosed block", where).isLessThan(lines.size());
            assertThat(lines.get(end)).as("%s: the closing fence", where).isEqualTo("```");
            found.add(new Block(file, i + 1, language, List.copyOf(lines.subList(i + 1, end)), recorded, given));
            i = end;
        }
        return found;
    }

    private static List<Block> of(String language) {
        return blocks.stream().filter(b -> b.language().equals(language)).collect(Collectors.toList());
    }

    @Test
    void everyBlockIsOfAKnownKindAndTheReadmeIsShort() throws IOException {
        Map<String, Long> kinds = new TreeMap<>(blocks.stream()
                .collect(Collectors.groupingBy(Block::language, Collectors.counting())));
        System.out.println("DocsTest: " + blocks.size() + " blocks " + kinds + ", "
                + blocks.stream().filter(b -> b.language().equals("console") && b.recorded() == null).count()
                + " console blocks run, the others parsed");
        assertThat(of("console")).isNotEmpty();
        assertThat(of("java")).isNotEmpty();
        assertThat(Files.readAllLines(root.resolve("README.md"))).hasSizeLessThanOrEqualTo(300);
        for (Block b : blocks) {
            if (b.recorded() != null) {
                assertThat(b.language()).as("%s: only console blocks carry 'recorded'", b.where()).isEqualTo("console");
            }
            if (b.given() != null) {
                assertThat(b.language()).as("%s: only java blocks carry 'given'", b.where()).isEqualTo("java");
            }
        }
    }

    @Test
    void consoleBlocksRunAndShowTheirOutput() {
        for (Block b : of("console")) {
            List<String> expected = new ArrayList<>();
            List<String> command = null;
            for (int i = 0; i <= b.body().size(); i++) {
                String line = i < b.body().size() ? b.body().get(i) : null;
                if (line == null || line.startsWith("$ ")) {
                    if (command != null) {
                        check(b, command, expected);
                    }
                    if (line == null) {
                        break;
                    }
                    StringBuilder text = new StringBuilder(line.substring(2));
                    while (text.toString().endsWith("\\") && i + 1 < b.body().size()) {
                        text.setLength(text.length() - 1);
                        text.append(' ').append(b.body().get(++i).strip());
                    }
                    command = words(text.toString(), b.where());
                    expected = new ArrayList<>();
                } else {
                    assertThat(command).as("%s: output before the first '$ ' command", b.where()).isNotNull();
                    expected.add(line);
                }
            }
            assertThat(command).as("%s: a console block without a '$ ' command", b.where()).isNotNull();
        }
    }

    private static void check(Block b, List<String> command, List<String> expected) {
        assertThat(command.get(0)).as("%s: console blocks hold ./ntk4j commands", b.where()).isEqualTo("./ntk4j");
        String[] args = command.subList(1, command.size()).toArray(new String[0]);
        if (b.recorded() != null) {
            parseNtk4j(b, command);
            return;
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        long start = System.nanoTime();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        System.out.printf(Locale.ROOT, "DocsTest: %s %s: %.1f s%n", b.where(), String.join(" ", command),
                (System.nanoTime() - start) / 1e9);
        assertThat(code).as("%s: exit code of %s; stderr: %s", b.where(), command, err).isZero();
        List<String> actual = out.toString().lines().map(String::stripTrailing).collect(Collectors.toList());
        List<String> shown = expected.stream().map(String::stripTrailing).collect(Collectors.toList());
        assertThat(matches(shown, 0, actual, 0))
                .as("%s: the output of %s differs from the block ('…' matches anything; or mark the block"
                        + " <!-- recorded: DATE, what -->).%nshown:%n%s%nprinted:%n%s", b.where(), command,
                        String.join("\n", shown), String.join("\n", actual))
                .isTrue();
    }

    /** Shown lines against printed ones: '…' in a line matches any text, a line of only '…' any lines. */
    static boolean matches(List<String> shown, int s, List<String> actual, int a) {
        if (s == shown.size()) {
            return a == actual.size();
        }
        if (shown.get(s).equals("…")) {
            for (int k = a; k <= actual.size(); k++) {
                if (matches(shown, s + 1, actual, k)) {
                    return true;
                }
            }
            return false;
        }
        if (a == actual.size()) {
            return false;
        }
        return lineMatches(shown.get(s), actual.get(a)) && matches(shown, s + 1, actual, a + 1);
    }

    private static final Pattern NUMBER = Pattern.compile("-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?");

    /**
     * One shown line against one printed line: '…' matches any text; otherwise the text between numbers must be
     * equal, whole numbers equal, and numbers with a fraction or exponent equal to 1e-4 relative — a float32
     * kernel's figures differ in their last printed digit between OpenBLAS's GEMM kernels for different CPUs.
     */
    static boolean lineMatches(String shown, String actual) {
        if (shown.contains("…")) {
            String regex = Stream.of(shown.split("…", -1)).map(Pattern::quote).collect(Collectors.joining(".*"));
            return actual.matches(regex);
        }
        if (shown.equals(actual)) {
            return true;
        }
        java.util.regex.Matcher ms = NUMBER.matcher(shown);
        java.util.regex.Matcher ma = NUMBER.matcher(actual);
        int ps = 0;
        int pa = 0;
        while (ms.find()) {
            if (!ma.find() || !shown.substring(ps, ms.start()).equals(actual.substring(pa, ma.start()))) {
                return false;
            }
            String x = ms.group();
            String y = ma.group();
            boolean whole = !x.contains(".") && !x.contains("e") && !x.contains("E");
            if (whole ? !x.equals(y) : !close(Double.parseDouble(x), Double.parseDouble(y))) {
                return false;
            }
            ps = ms.end();
            pa = ma.end();
        }
        return !ma.find() && shown.substring(ps).equals(actual.substring(pa));
    }

    private static boolean close(double x, double y) {
        return Math.abs(x - y) <= 1e-4 * Math.max(Math.abs(x), Math.abs(y));
    }

    @Test
    void numbersInShownOutputMatchToFourDigitsButWordsAndCountsExactly() {
        assertThat(lineMatches("trace 2307.45, condition number 3199.63", "trace 2307.45, condition number 3199.64"))
                .isTrue();
        assertThat(lineMatches("condition number 3199.63", "condition number 3299.63")).isFalse();
        assertThat(lineMatches("0 ≤ 0 of 300", "1 ≤ 0 of 300")).isFalse();
        assertThat(lineMatches("λ_max 961.684", "λ_min 961.684")).isFalse();
        assertThat(lineMatches("in … s", "in 0.09 s")).isTrue();
        assertThat(lineMatches("largest: 1.5 2.5", "largest: 1.5 2.5 3.5")).isFalse();
    }

    @Test
    void commandLinesHoldNoBareShellSyntax() {
        assertThat(words("./ntk4j train --model 'fcn(depth=2,width=512)' --lr \"1e-2\"", "here"))
                .containsExactly("./ntk4j", "train", "--model", "fcn(depth=2,width=512)", "--lr", "1e-2");
        assertThat(words("java -cp \"a:$(cat b)\" C", "here")).containsExactly("java", "-cp", "a:$(cat b)", "C");
        assertThatThrownBy(() -> words("./ntk4j train --model fcn(depth=2,width=512) --epochs 5", "training.md:96"))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("training.md:96: an unquoted '(' in ./ntk4j train --model fcn(depth=2");
        assertThatThrownBy(() -> words("./ntk4j kernel --kind full|trace", "here"))
                .isInstanceOf(AssertionError.class).hasMessageContaining("an unquoted '|'");
    }

    @Test
    void bashBlocksNameCommandsThatExist() {
        for (Block b : of("bash")) {
            StringBuilder logical = new StringBuilder();
            for (String raw : b.body()) {
                String line = stripComment(raw);
                if (line.endsWith("\\")) {
                    logical.append(line, 0, line.length() - 1).append(' ');
                    continue;
                }
                logical.append(line);
                String text = logical.toString().strip();
                logical.setLength(0);
                if (!text.isEmpty()) {
                    checkShell(b, text);
                }
            }
            assertThat(logical.toString().strip()).as("%s: a continued last line", b.where()).isEmpty();
        }
    }

    private static void checkShell(Block b, String text) {
        for (String part : text.split("\\s+&&\\s+")) {
            List<String> w = new ArrayList<>(words(part, b.where()));
            while (!w.isEmpty() && w.get(0).matches("[A-Z_][A-Z0-9_]*=.*")) {
                w.remove(0);
            }
            assertThat(w).as("%s: an empty command", b.where()).isNotEmpty();
            String program = w.get(0);
            switch (program) {
                case "./ntk4j" -> parseNtk4j(b, w);
                case "bash", "python3" -> {
                    String script = w.stream().skip(1).filter(x -> !x.startsWith("-")).findFirst().orElseThrow();
                    assertThat(root.resolve(script)).as("%s: script of %s", b.where(), part).exists();
                }
                case "ntk4j-examples/run" -> { // the examples' launcher: the script and the example must exist
                    assertThat(root.resolve(program)).as("%s: %s", b.where(), program).exists();
                    assertThat(w).as("%s: %s needs an example's name", b.where(), program).hasSizeGreaterThan(1);
                    assertThat(sourceOf("org.ntk4j.examples." + w.get(1))).as("%s: example %s", b.where(), w.get(1))
                            .isNotNull();
                }
                case "java", "spark-submit" -> {
                    boolean named = false;
                    for (String word : w) {
                        if (word.matches("org\\.ntk4j(\\.[a-z0-9]+)*\\.[A-Z]\\w*")) {
                            assertThat(sourceOf(word)).as("%s: class %s", b.where(), word).isNotNull();
                            named = true;
                        } else if (word.endsWith(".java") && !word.contains("$")) {
                            assertThat(root.resolve(word)).as("%s: %s", b.where(), word).exists();
                            named = true;
                        }
                    }
                    assertThat(named).as("%s: %s names no ntk4j class or source file", b.where(), part).isTrue();
                }
                default -> assertThat(PLAIN_PROGRAMS)
                        .as("%s: a command the doc test does not know: %s", b.where(), part).contains(program);
            }
        }
    }

    private static Path sourceOf(String className) {
        String relative = "src/main/java/" + className.replace('.', '/') + ".java";
        try (Stream<Path> modules = Files.list(root)) {
            return modules.map(m -> m.resolve(relative)).filter(Files::exists).findFirst().orElse(null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parses an ./ntk4j command line without running it. */
    private static void parseNtk4j(Block b, List<String> command) {
        List<String> args = command.subList(1, command.size());
        if (!args.isEmpty() && args.get(0).equals("bench")) {
            assertThat(args).as("%s: bench needs a name", b.where()).hasSizeGreaterThan(1);
            assertThat(BENCHES).as("%s: benchmark name", b.where()).contains(args.get(1));
            String benchSources = benchSources();
            for (String a : args) {
                if (a.startsWith("--")) {
                    String option = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
                    assertThat(benchSources).as("%s: bench option %s", b.where(), option)
                            .contains("\"" + option + "\"");
                }
            }
            return;
        }
        try {
            new CommandLine(new Main()).parseArgs(args.toArray(new String[0]));
        } catch (CommandLine.ParameterException e) {
            throw new AssertionError(b.where() + ": " + String.join(" ", command) + ": " + e.getMessage(), e);
        }
    }

    private static String benchSources() {
        try (Stream<Path> files = Files.walk(root.resolve("ntk4j-bench/src/main/java"))) {
            StringBuilder all = new StringBuilder();
            for (Path p : files.filter(p -> p.toString().endsWith(".java")).collect(Collectors.toList())) {
                all.append(Files.readString(p));
            }
            return all.toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void synopsisBlocksNameOptionsThatExist() {
        CommandLine main = new CommandLine(new Main());
        for (Block b : of("synopsis")) {
            CommandLine current = null;
            for (String raw : b.body()) {
                String line = stripComment(raw);
                if (line.isBlank()) {
                    continue;
                }
                String text = line.strip();
                if (text.startsWith("./ntk4j")) {
                    String[] w = text.split("\\s+");
                    assertThat(w.length).as("%s: a synopsis line without a command", b.where()).isGreaterThan(1);
                    if (w[1].equals("bench")) {
                        current = null;
                        for (String option : options(text)) {
                            assertThat(benchSources()).as("%s: bench option %s", b.where(), option)
                                    .contains("\"" + option + "\"");
                        }
                        continue;
                    }
                    current = main.getSubcommands().get(w[1]);
                    assertThat(current).as("%s: command %s", b.where(), w[1]).isNotNull();
                } else {
                    assertThat(raw).as("%s: a continuation line is indented", b.where()).startsWith(" ");
                    if (current == null) {
                        continue;
                    }
                }
                if (current != null) {
                    for (String option : options(text)) {
                        assertThat(current.getCommandSpec().findOption(option))
                                .as("%s: option %s of %s", b.where(), option, current.getCommandName()).isNotNull();
                    }
                }
            }
        }
    }

    /**
     * The other direction of {@link #synopsisBlocksNameOptionsThatExist}: cli.md's synopsis names every option of
     * each command whose lines there do not end in "..." (those list some options and say so), so that an option
     * added to a command (or one the synopsis left out: approx's --report and --resume, spectrum's --top, found
     * missing on 2026-12-07) is not missing from the page that lists them. --help, --version and --debug, which
     * every command has, are described below the synopsis.
     */
    @Test
    void cliSynopsisNamesEveryOptionOfTheCommandsItListsWhole() {
        CommandLine main = new CommandLine(new Main());
        Map<String, List<String>> lines = new TreeMap<>();
        String current = null;
        for (Block b : of("synopsis")) {
            if (!b.file().endsWith(Path.of("docs", "cli.md"))) {
                continue;
            }
            for (String raw : b.body()) {
                String text = stripComment(raw).strip();
                if (text.startsWith("./ntk4j")) {
                    String name = text.split("\\s+")[1];
                    current = name.equals("bench") ? null : name;
                }
                if (current != null && !text.isEmpty()) {
                    lines.computeIfAbsent(current, k -> new ArrayList<>()).add(text);
                }
            }
        }
        assertThat(lines.keySet()).as("commands in cli.md's synopsis").containsAll(main.getSubcommands().keySet()
                .stream().filter(c -> !c.equals("help")).toList());
        int checked = 0;
        for (Map.Entry<String, List<String>> e : lines.entrySet()) {
            if (e.getValue().stream().anyMatch(l -> l.endsWith("..."))) {
                continue;
            }
            checked++;
            Set<String> named = new TreeSet<>();
            e.getValue().forEach(l -> named.addAll(options(l)));
            for (CommandLine.Model.OptionSpec o : main.getSubcommands().get(e.getKey()).getCommandSpec().options()) {
                String name = o.longestName();
                if (Set.of("--help", "--version", "--debug").contains(name)) {
                    continue;
                }
                assertThat(java.util.Arrays.stream(o.names()).anyMatch(named::contains))
                        .as("docs/cli.md's synopsis of %s lists its options but not %s", e.getKey(), name).isTrue();
            }
        }
        assertThat(checked).as("commands whose synopsis is whole").isGreaterThanOrEqualTo(5);
    }

    private static List<String> options(String text) {
        List<String> found = new ArrayList<>();
        Matcher m = Pattern.compile("(?<![\\w-])--[a-z][a-z0-9-]*").matcher(text);
        while (m.find()) {
            found.add(m.group());
        }
        return found;
    }

    /**
     * Every relative link of the repository's Markdown files (README, CHANGELOG, docs/, the bench module's records;
     * not under a build output, a hidden folder or node_modules) reaches a file, and a link with a fragment reaches
     * a heading of that page, by the anchors GitHub gives headings. Written when the speed history moved from docs/
     * to the bench module; it found one dead fragment that had been in models.md before.
     */
    @Test
    void relativeLinksReachTheirFilesAndHeadings() throws IOException {
        Pattern link = Pattern.compile("\\]\\(([^)\\s]+)\\)");
        List<Path> pages = new ArrayList<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attributes) {
                String name = dir.getFileName() == null ? "" : dir.getFileName().toString();
                boolean skipped = !dir.equals(root) && (name.equals("target") || name.equals("node_modules")
                        || name.startsWith("."));
                return skipped ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                if (file.toString().endsWith(".md")) {
                    pages.add(file);
                }
                return FileVisitResult.CONTINUE;
            }
        });
        assertThat(pages).as("Markdown pages").contains(root.resolve("README.md"), root.resolve("docs/performance.md"));
        int links = 0;
        for (Path page : pages) {
            boolean fenced = false;
            List<String> lines = Files.readAllLines(page, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).startsWith("```")) {
                    fenced = !fenced;
                    continue;
                }
                Matcher m = link.matcher(lines.get(i));
                while (!fenced && m.find()) {
                    String target = m.group(1);
                    if (target.startsWith("http://") || target.startsWith("https://") || target.startsWith("mailto:")) {
                        continue;
                    }
                    links++;
                    String where = root.relativize(page) + ":" + (i + 1) + ": link " + target;
                    int hash = target.indexOf('#');
                    String file = hash < 0 ? target : target.substring(0, hash);
                    Path reached = file.isEmpty() ? page : page.getParent().resolve(file).normalize();
                    assertThat(reached).as(where).exists();
                    if (hash >= 0 && reached.toString().endsWith(".md")) {
                        assertThat(headingAnchors(reached)).as(where).contains(target.substring(hash + 1));
                    }
                }
            }
        }
        assertThat(links).as("relative links checked").isGreaterThan(100);
    }

    /**
     * The fragments GitHub gives a page's headings: lower case, every character but letters, digits, marks, '_',
     * '-' and spaces dropped, spaces as '-'; a repeated heading's anchor gets -1, -2, ... Fenced blocks hold none.
     */
    static Set<String> headingAnchors(Path page) throws IOException {
        Set<String> anchors = new TreeSet<>();
        Map<String, Integer> seen = new TreeMap<>();
        boolean fenced = false;
        for (String line : Files.readAllLines(page, StandardCharsets.UTF_8)) {
            if (line.startsWith("```")) {
                fenced = !fenced;
            } else if (!fenced && line.startsWith("#")) {
                String slug = line.replaceFirst("^#+", "").strip().toLowerCase(Locale.ROOT)
                        .replaceAll("[^\\p{L}\\p{N}\\p{M}_\\- ]", "").replace(' ', '-');
                int count = seen.merge(slug, 1, Integer::sum);
                anchors.add(count == 1 ? slug : slug + "-" + (count - 1));
            }
        }
        return anchors;
    }

    @Test
    void textBlocksHoldNoCommands() {
        for (Block b : of("text")) {
            for (String line : b.body()) {
                assertThat(line.strip()).as("%s: a command in a text block; use console, bash or synopsis", b.where())
                        .doesNotStartWith("$ ").doesNotStartWith("./ntk4j").doesNotStartWith("mvn ")
                        .doesNotStartWith("java ");
            }
        }
    }

    @Test
    void xmlBlocksNameThisRepositorysModules() throws Exception {
        String version = javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(root.resolve("pom.xml").toFile()).getDocumentElement().getElementsByTagName("version").item(0)
                .getTextContent();
        for (Block b : of("xml")) {
            org.w3c.dom.Document doc = javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder()
                    .parse(new java.io.ByteArrayInputStream(("<snippet>" + String.join("\n", b.body()) + "</snippet>")
                            .getBytes(StandardCharsets.UTF_8)));
            org.w3c.dom.NodeList dependencies = doc.getElementsByTagName("dependency");
            for (int i = 0; i < dependencies.getLength(); i++) {
                org.w3c.dom.Element d = (org.w3c.dom.Element) dependencies.item(i);
                if (!d.getElementsByTagName("groupId").item(0).getTextContent().equals("org.ntk4j")) {
                    continue;
                }
                String artifact = d.getElementsByTagName("artifactId").item(0).getTextContent();
                assertThat(root.resolve(artifact).resolve("pom.xml")).as("%s: module %s", b.where(), artifact).exists();
                assertThat(d.getElementsByTagName("version").item(0).getTextContent()).as("%s: version", b.where())
                        .isEqualTo(version);
            }
        }
    }

    @Test
    void javaBlocksCompile() throws IOException {
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        assertThat(compiler).as("a JDK's compiler").isNotNull();
        String imports = ntk4jPackages().stream().map(p -> "import " + p + ".*;\n").collect(Collectors.joining())
                + "import java.nio.file.*;\nimport java.util.*;\nimport java.util.function.*;\n";
        List<JavaFileObject> units = new ArrayList<>();
        Map<String, Block> byName = new TreeMap<>();
        for (Block b : of("java")) {
            String body = String.join("\n", b.body());
            String name = "Doc_" + root.relativize(b.file()).toString().replaceAll("\\W", "_") + "_" + b.line();
            byName.put(name, b);
            String source;
            if (Pattern.compile("(?m)^(public |final |abstract )*(class|record|interface|enum) \\w+").matcher(body)
                    .find()) {
                assertThat(b.given()).as("%s: 'given' is for statement snippets", b.where()).isNull();
                source = "package docs." + name.toLowerCase(Locale.ROOT) + ";\n" + imports + body + "\n";
                name = "docs." + name.toLowerCase(Locale.ROOT) + "." + firstType(body);
            } else {
                String parameters = b.given() == null ? ""
                        : Stream.of(b.given().split(";")).map(String::strip).collect(Collectors.joining(", "));
                source = imports + "@SuppressWarnings(\"unused\")\nclass " + name + " {\n    static void run("
                        + parameters + ") throws Exception {\n" + body + "\n    }\n}\n";
            }
            String unit = name;
            String code = source;
            units.add(new SimpleJavaFileObject(URI.create("string:///" + unit.replace('.', '/') + ".java"),
                    JavaFileObject.Kind.SOURCE) {
                @Override
                public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                    return code;
                }
            });
        }
        Path out = Files.createTempDirectory("ntk4j-docs-java");
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager files = compiler.getStandardFileManager(diagnostics, Locale.ROOT,
                StandardCharsets.UTF_8)) {
            List<String> options = List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString(),
                    "-proc:none", "--release", "17");
            boolean ok = compiler.getTask(null, files, diagnostics, options, null, units).call();
            String problems = diagnostics.getDiagnostics().stream()
                    .filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
                    .map(d -> {
                        String unit = d.getSource() == null ? "?" : d.getSource().getName();
                        Block b = byName.entrySet().stream().filter(e -> unit.contains(e.getKey())
                                || unit.contains(e.getKey().toLowerCase(Locale.ROOT))).map(Map.Entry::getValue)
                                .findFirst().orElse(null);
                        return (b == null ? unit : b.where()) + " (generated line " + d.getLineNumber() + "): "
                                + d.getMessage(Locale.ROOT);
                    })
                    .collect(Collectors.joining("\n"));
            assertThat(ok).as("Java blocks that do not compile:%n%s", problems).isTrue();
        } finally {
            try (Stream<Path> left = Files.walk(out)) {
                left.sorted((x, y) -> y.compareTo(x)).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static String firstType(String body) {
        Matcher m = Pattern.compile("(?m)^(?:public |final |abstract )*(?:class|record|interface|enum) (\\w+)")
                .matcher(body);
        assertThat(m.find()).isTrue();
        return m.group(1);
    }

    /** The org.ntk4j packages on the test class path (module directories or jars). */
    private static Set<String> ntk4jPackages() throws IOException {
        Set<String> packages = new TreeSet<>();
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry);
            if (Files.isDirectory(p.resolve("org/ntk4j"))) {
                try (Stream<Path> classes = Files.walk(p.resolve("org/ntk4j"))) {
                    classes.filter(c -> c.toString().endsWith(".class"))
                            .forEach(c -> packages.add(p.relativize(c.getParent()).toString()
                                    .replace(java.io.File.separatorChar, '.')));
                }
            } else if (entry.endsWith(".jar") && Files.exists(p) && p.getFileName().toString().startsWith("ntk4j")) {
                try (JarFile jar = new JarFile(p.toFile())) {
                    for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements();) {
                        String n = e.nextElement().getName();
                        if (n.startsWith("org/ntk4j/") && n.endsWith(".class")) {
                            packages.add(n.substring(0, n.lastIndexOf('/')).replace('/', '.'));
                        }
                    }
                }
            }
        }
        packages.remove("org.ntk4j.cli");   // the CLI's package-private classes are not an API
        return packages;
    }

    private static String stripComment(String line) {
        boolean single = false;
        boolean dbl = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\'' && !dbl) {
                single = !single;
            } else if (c == '"' && !single) {
                dbl = !dbl;
            } else if (c == '#' && !single && !dbl && (i == 0 || Character.isWhitespace(line.charAt(i - 1)))) {
                return line.substring(0, i).stripTrailing();
            }
        }
        return line.stripTrailing();
    }

    /**
     * Splits a shell command line into words: single and double quotes, no expansions. A character the shell reads
     * as syntax outside quotes ({@code ( ) | ; < > &}) fails: a model spec such as {@code fcn(depth=2)} written
     * without quotes parses here but is a syntax error in bash (two recorded training runs once showed it so).
     */
    static List<String> words(String line, String where) {
        List<String> words = new ArrayList<>();
        StringBuilder word = null;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    word.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                word = word == null ? new StringBuilder() : word;
            } else if (Character.isWhitespace(c)) {
                if (word != null) {
                    words.add(word.toString());
                    word = null;
                }
            } else {
                assertThat(SHELL_SYNTAX.indexOf(c))
                        .as("%s: an unquoted '%s' in %s: the shell reads it as syntax; quote the word, as in"
                                + " --model 'fcn(depth=2)'", where, c, line)
                        .isNegative();
                word = word == null ? new StringBuilder() : word;
                word.append(c);
            }
        }
        assertThat(quote).as("%s: unclosed quote in %s", where, line).isEqualTo((char) 0);
        if (word != null) {
            words.add(word.toString());
        }
        return words;
    }
}
