package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/vaultaire/vaultaire/bench"
)

// Exit codes of `vaultaire bench`.
const (
	benchExitOK          = 0
	benchExitFailed      = 1 // the run failed, or data did not verify
	benchExitUsage       = 2
	benchExitInterrupted = 130
)

// benchCommand runs `vaultaire bench ...` (args without "bench") and
// returns the exit code. Subcommands: compare, plot; anything else is a
// benchmark run (see bench.ParseArgs for the flags).
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return benchCompare(args[1:], stdout, stderr)
		case "plot":
			return benchPlot(args[1:], stdout, stderr)
		case "help":
			args = []string{"-h"}
		}
	}
	opts, err := bench.ParseArgs(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return benchExitOK
	}
	if err != nil {
		return benchExitUsage
	}
	return benchRun(ctx, opts, stdout, stderr)
}

// benchIsTerminal reports whether w is a terminal.
func benchIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func benchRun(ctx context.Context, opts bench.Options, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal ends the measurement and the run cleans up; a
	// second one during cleanup exits at once.
	again := make(chan os.Signal, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(again)
		select {
		case <-again:
			fmt.Fprintln(stderr, "vaultaire bench: interrupted again, exiting without cleanup")
			os.Exit(benchExitInterrupted)
		case <-done:
		}
	}()

	cfg := opts.Config
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	switch opts.Progress {
	case "always":
		cfg.Progress = stderr
	case "auto":
		if benchIsTerminal(stderr) && benchIsTerminal(stdout) {
			cfg.Progress = stderr
		}
	}

	if opts.Sink {
		srv, err := bench.StartSink(bench.NewSink())
		if err != nil {
			fmt.Fprintf(stderr, "vaultaire bench: start sink: %v\n", err)
			return benchExitFailed
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = srv.Close(sctx)
		}()
		cfg.Endpoint = srv.URL
		fmt.Fprintf(stderr, "vaultaire bench: measuring the in-process sink at %s (client-side ceiling)\n", srv.URL)
	}

	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "vaultaire bench: %v\n", err)
		if ctx.Err() != nil {
			return benchExitInterrupted
		}
		return benchExitFailed
	}
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "vaultaire bench: %v\n", err)
		return benchExitFailed
	}
	if opts.OutDir != "" {
		if err := rep.WriteFiles(opts.OutDir); err != nil {
			fmt.Fprintf(stderr, "vaultaire bench: write results: %v\n", err)
			return benchExitFailed
		}
		fmt.Fprintf(stderr, "vaultaire bench: results in %s\n", opts.OutDir)
	}
	switch {
	case rep.VerifyErrors() > 0:
		return benchExitFailed
	case rep.Interrupted:
		return benchExitInterrupted
	}
	return benchExitOK
}

func benchCompare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vaultaire bench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: vaultaire bench compare A.json B.json\n\nPrints each op's metrics of both runs side by side with the ratio B/A.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return benchExitOK
		}
		return benchExitUsage
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return benchExitUsage
	}
	a, err := bench.LoadReport(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "vaultaire bench compare: %v\n", err)
		return benchExitFailed
	}
	b, err := bench.LoadReport(fs.Arg(1))
	if err != nil {
		fmt.Fprintf(stderr, "vaultaire bench compare: %v\n", err)
		return benchExitFailed
	}
	if err := bench.WriteComparison(stdout, fs.Arg(0), fs.Arg(1), a, b); err != nil {
		fmt.Fprintf(stderr, "vaultaire bench compare: %v\n", err)
		return benchExitFailed
	}
	return benchExitOK
}

func benchPlot(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vaultaire bench plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output SVG file (default: the input with .svg; - for stdout)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: vaultaire bench plot result.json [-o file.svg]\n\nDraws throughput over time and latency percentiles per op as a self-contained SVG.")
		fs.PrintDefaults()
	}
	// Accept the flag after the file name too.
	var files []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return benchExitOK
			}
			return benchExitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return benchExitUsage
	}
	rep, err := bench.LoadReport(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "vaultaire bench plot: %v\n", err)
		return benchExitFailed
	}
	dst := *out
	if dst == "" {
		dst = strings.TrimSuffix(files[0], filepath.Ext(files[0])) + ".svg"
	}
	if dst == "-" {
		if err := rep.WriteSVG(stdout); err != nil {
			fmt.Fprintf(stderr, "vaultaire bench plot: %v\n", err)
			return benchExitFailed
		}
		return benchExitOK
	}
	f, err := os.Create(dst)
	if err != nil {
		fmt.Fprintf(stderr, "vaultaire bench plot: %v\n", err)
		return benchExitFailed
	}
	if err := rep.WriteSVG(f); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "vaultaire bench plot: %v\n", err)
		return benchExitFailed
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "vaultaire bench plot: %v\n", err)
		return benchExitFailed
	}
	fmt.Fprintf(stderr, "vaultaire bench plot: wrote %s\n", dst)
	return benchExitOK
}
