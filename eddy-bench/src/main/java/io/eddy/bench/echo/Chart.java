package io.eddy.bench.echo;

import io.eddy.bench.echo.EchoRunner.Run;
import io.eddy.bench.echo.EchoRunner.Scenario;
import io.eddy.bench.echo.EchoRunner.Server;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;

/**
 * The PNG of an {@link EchoRunner} run, drawn with Java2D (no chart library): three panels of grouped bars,
 * messages (or connections) per second, server CPU per message (or connection) and p99 latency, each
 * server's median relative to the baseline's in the same scenario (the C epoll server if it ran, else
 * Netty epoll, else Netty NIO: {@link Report#baseline()}), with the absolute median written on each bar.
 */
final class Chart {

    /** One per server, in the order of {@link EchoRunner#ALL_SERVERS}: a server has the same colour in every chart. */
    private static final Color[] COLORS = {
            new Color(0x636363), new Color(0x9ecae1), new Color(0x08519c), new Color(0x6baed6), new Color(0x3182bd),
            new Color(0xfdae6b), new Color(0xe6550d), new Color(0xa63603), new Color(0x74c476)};
    private static final int WIDTH = 1400;
    private static final int PANEL = 420;

    private Chart() {
    }

    static void write(Report report, Path file) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage image = new BufferedImage(WIDTH, 3 * PANEL + 110, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        List<Scenario> load = report.scenarios.stream().filter(s -> s.number() <= 5).toList();
        String base = report.baseline();
        String relative = ", relative to " + report.servers.stream().filter(s -> s.key().equals(base))
                .map(Server::name).findFirst().orElse(base);
        List<Server> shown = report.servers.stream().filter(s -> report.ran(s.key())).toList();
        panel(g, report, shown, base, load, 20, "Messages (scenario 5: connections) per second" + relative
                + " (higher is better)", Run::opsPerSecond, "%,.0f/s");
        panel(g, report, shown, base, load, 20 + PANEL, "Server CPU per message (scenario 5: per connection)" + relative
                + " (lower is better)", Run::cpuMicrosPerOp, "%.2f µs");
        panel(g, report, shown, base, load.stream().filter(s -> s.number() <= 4).toList(), 20 + 2 * PANEL,
                "p99 latency" + relative + " (lower is better)", Run::p99, "%,.0f µs");
        legend(g, shown, 3 * PANEL + 40);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(Color.DARK_GRAY);
        g.drawString(report.machine, 20, 3 * PANEL + 100);
        g.dispose();
        ImageIO.write(image, "png", file.toFile());
    }

    private static void panel(Graphics2D g, Report report, List<Server> servers, String baseKey, List<Scenario> scenarios,
                              int top, String title, ToDoubleFunction<Run> metric, String valueFormat) {
        int left = 70;
        int right = WIDTH - 20;
        int plotTop = top + 30;
        int plotBottom = top + PANEL - 60;
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title, left, top + 15);
        double max = 1.2;
        for (Scenario s : scenarios) {
            double base = report.median(baseKey, s.number(), metric);
            for (Server server : servers) {
                double v = report.median(server.key(), s.number(), metric) / base;
                if (!Double.isNaN(v) && !Double.isInfinite(v)) {
                    max = Math.max(max, v * 1.1);
                }
            }
        }
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (double tick = 0; tick <= max; tick += max > 3 ? 1 : 0.25) {
            int y = plotBottom - (int) ((plotBottom - plotTop) * tick / max);
            g.setColor(tick == 1.0 ? Color.GRAY : new Color(0xeeeeee));
            g.setStroke(new BasicStroke(tick == 1.0 ? 1.5f : 1f));
            g.drawLine(left, y, right, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, "%.2f", tick), left - 40, y + 4);
        }
        if (scenarios.isEmpty()) {
            return;
        }
        int groupWidth = (right - left) / scenarios.size();
        int barWidth = (groupWidth - 30) / Math.max(1, servers.size());
        for (int i = 0; i < scenarios.size(); i++) {
            Scenario s = scenarios.get(i);
            int x0 = left + i * groupWidth + 15;
            double base = report.median(baseKey, s.number(), metric);
            for (int j = 0; j < servers.size(); j++) {
                double value = report.median(servers.get(j).key(), s.number(), metric);
                if (Double.isNaN(value) || Double.isNaN(base) || base == 0) {
                    continue;
                }
                int h = (int) ((plotBottom - plotTop) * (value / base) / max);
                int x = x0 + j * barWidth;
                g.setColor(color(servers.get(j)));
                g.fillRect(x, plotBottom - h, barWidth - 4, h);
                g.setColor(Color.BLACK);
                g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
                drawVertical(g, String.format(Locale.ROOT, valueFormat, value), x + barWidth / 2 + 2, plotBottom - 4);
            }
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.drawString(s.number() + ". " + s.label(), x0, plotBottom + 18);
        }
    }

    private static Color color(Server server) {
        int i = EchoRunner.ALL_SERVERS.indexOf(server.key());
        return i < 0 ? Color.LIGHT_GRAY : COLORS[i % COLORS.length];
    }

    private static void drawVertical(Graphics2D g, String text, int x, int y) {
        Graphics2D r = (Graphics2D) g.create();
        r.translate(x, y);
        r.rotate(-Math.PI / 2);
        r.drawString(text, 0, 0);
        r.dispose();
    }

    private static void legend(Graphics2D g, List<Server> servers, int y) {
        int x = 70;
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        for (int j = 0; j < servers.size(); j++) {
            int width = 20 + g.getFontMetrics().stringWidth(servers.get(j).name()) + 30;
            if (x + width > WIDTH) { // a second line
                x = 70;
                y += 22;
            }
            g.setColor(color(servers.get(j)));
            g.fillRect(x, y - 11, 14, 14);
            g.setColor(Color.BLACK);
            g.drawString(servers.get(j).name(), x + 20, y);
            x += width;
        }
    }
}
