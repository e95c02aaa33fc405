package org.ntk4j.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** What the benchmarks say about the machine they ran on: CPU, memory, JVM, load, date. */
final class Machine {
    private Machine() {
    }

    static String now() {
        return ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
    }

    /** The 1-, 5- and 15-minute load averages from /proc/loadavg, or "n/a": a gauge of other work on the cores. */
    static String loadAverage() {
        try {
            String[] f = new String(Files.readAllBytes(Paths.get("/proc/loadavg")), StandardCharsets.US_ASCII)
                    .trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            double l = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
            return l < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", l);
        }
    }

    static String cpuModel() {
        String model = procFields("/proc/cpuinfo").get("model name");
        return model != null ? model : System.getProperty("os.arch");
    }

    /** The machine's memory in binary units ("23.5 GiB"), from /proc/meminfo's MemTotal, or "n/a". */
    static String memTotal() {
        return kibibytes(procFields("/proc/meminfo").get("MemTotal"));
    }

    /**
     * A /proc/meminfo value ("24683792 kB", kibibytes despite the unit's name) in binary units ("23.5 GiB").
     *
     * @param field the value, or null
     * @return the size, or "n/a" for null or a value that is not a number of kB
     */
    static String kibibytes(String field) {
        long kib = field == null ? -1 : kibibyteCount(field);
        return kib < 0 ? "n/a" : org.ntk4j.ntk.CostModel.human(kib * 1024);
    }

    private static long kibibyteCount(String field) {
        try {
            return Long.parseLong(field.replace("kB", "").trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * The memory a peer process may have: MemAvailable once this JVM has handed the storage its tensor pool keeps
     * for reuse back to the system ({@link org.ntk4j.tensor.Tensor#releasePooledStorage}; the pool may hold
     * gigabytes after ntk4j's runs of a large model, which the peer would otherwise be refused), or -1.
     *
     * @return bytes available to another process, or -1 when /proc/meminfo does not say
     */
    static long memAvailableForPeers() {
        org.ntk4j.tensor.Tensor.releasePooledStorage();
        return memAvailableBytes();
    }

    /** MemAvailable from /proc/meminfo in bytes (what can be allocated without swapping), or -1. */
    static long memAvailableBytes() {
        String v = procFields("/proc/meminfo").get("MemAvailable");
        long kib = v == null ? -1 : kibibyteCount(v);
        return kib < 0 ? -1 : kib * 1024;
    }

    static String java() {
        return System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version");
    }

    static String jvmOptions() {
        return String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments());
    }

    static int cores() {
        return Runtime.getRuntime().availableProcessors();
    }

    private static Map<String, String> procFields(String file) {
        Map<String, String> m = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Paths.get(file), StandardCharsets.US_ASCII)) {
                int c = line.indexOf(':');
                if (c > 0) {
                    m.putIfAbsent(line.substring(0, c).trim(), line.substring(c + 1).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: the callers fall back
        }
        return m;
    }
}
