// Command gosec runs the gosec security checker (github.com/securego/gosec/v2, at the
// version pinned in ../go.mod) over Go packages, as gosec's own cmd/gosec does: the same
// config, rules, SSA analyzers, #nosec handling, path-based exclusions, reports and exit
// status, with the flags below spelled as gosec spells them.
//
//	gosec [flags] ./...
//
// Why not `go install github.com/securego/gosec/v2/cmd/gosec@v2.30.0`: that binary also
// links gosec's optional AI "autofix" (the OpenAI, Anthropic and Gemini SDKs and
// google.golang.org/api), which CI never uses and which costs minutes of download and
// compile time on a fresh machine (openai-go alone takes over a minute of CPU and 2 GB of
// memory to compile). This driver leaves out only that, so CI stays fast and checks
// nothing less.
//
// Exit status: 0 when there is no unsuppressed finding and no error (a malformed #nosec
// directive is an error under -nosec-require-rules and -nosec-require-justification);
// 1 otherwise; 2 for bad usage.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/securego/gosec/v2"
	"github.com/securego/gosec/v2/analyzers"
	"github.com/securego/gosec/v2/issue"
	"github.com/securego/gosec/v2/report"
	"github.com/securego/gosec/v2/rules"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() { os.Exit(run()) }

func run() int {
	var (
		include      = flag.String("include", "", "comma-separated rule IDs to run (default: all)")
		exclude      = flag.String("exclude", "", "comma-separated rule IDs to skip")
		excludeRules = flag.String("exclude-rules", "", `path-based rule exclusions: "path-regexp:G101,G102;path-regexp2:*" (regexps match the absolute file path)`)
		requireRules = flag.Bool("nosec-require-rules", false, "a #nosec must name at least one rule ID (e.g. G115); a bare one is an error and suppresses nothing")
		requireWhy   = flag.Bool("nosec-require-justification", false, "a #nosec must carry a `-- justification`; one without is an error and suppresses nothing")
		tests        = flag.Bool("tests", false, "scan _test.go files too")
		format       = flag.String("fmt", "text", "report format: text, json, yaml, csv, junit-xml, html, sonarqube, golint or sarif")
		tags         = flag.String("tags", "", "comma-separated build tags")
		verbose      = flag.Bool("v", false, "log gosec's progress to stderr")
		excludeDirs  = listFlag{"vendor", `\.git/`}
	)
	flag.Var(&excludeDirs, "exclude-dir", "folder (regexp) to leave out of the scan; repeatable")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: gosec [flags] packages (e.g. ./...)\n\ngosec %s without AI autofix\n\n", version())
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		return 2
	}
	logger := log.New(io.Discard, "", 0)
	if *verbose {
		logger = log.New(os.Stderr, "[gosec] ", log.LstdFlags)
	}

	config := gosec.NewConfig()
	if *requireRules {
		config.SetGlobal(gosec.NoSecRequireRules, "true")
	}
	if *requireWhy {
		config.SetGlobal(gosec.NoSecRequireJustification, "true")
	}
	config.SetGlobal(gosec.IncludeRules, *include)
	config.SetGlobal(gosec.ExcludeRules, *exclude)

	var ruleFilters []rules.RuleFilter
	var analyzerFilters []analyzers.AnalyzerFilter
	if ids := splitIDs(*include); len(ids) > 0 {
		ruleFilters = append(ruleFilters, rules.NewRuleFilter(false, ids...))
		analyzerFilters = append(analyzerFilters, analyzers.NewAnalyzerFilter(false, ids...))
	}
	if ids := splitIDs(*exclude); len(ids) > 0 {
		ruleFilters = append(ruleFilters, rules.NewRuleFilter(true, ids...))
		analyzerFilters = append(analyzerFilters, analyzers.NewAnalyzerFilter(true, ids...))
	}
	ruleList := rules.Generate(false, ruleFilters...)
	analyzerList := analyzers.Generate(false, analyzerFilters...)
	if len(ruleList.Rules) == 0 && len(analyzerList.Analyzers) == 0 {
		fmt.Fprintln(os.Stderr, "gosec: no rules or analyzers selected")
		return 2
	}
	pathRules, err := gosec.ParseCLIExcludeRules(*excludeRules)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gosec: -exclude-rules: %v\n", err)
		return 2
	}
	pathFilter, err := gosec.NewPathExclusionFilter(pathRules)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gosec: -exclude-rules: %v\n", err)
		return 2
	}

	analyzer := gosec.NewAnalyzer(config, *tests, false, false, runtime.GOMAXPROCS(0), logger)
	analyzer.LoadRules(ruleList.RulesInfo())
	analyzer.LoadAnalyzers(analyzerList.AnalyzersInfo())

	dirs := gosec.ExcludedDirsRegExp(excludeDirs)
	var packages, rootPaths []string
	for _, p := range flag.Args() {
		pkgs, err := gosec.PackagePaths(p, dirs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gosec: %s: %v\n", p, err)
			return 1
		}
		packages = append(packages, pkgs...)
		root, err := gosec.RootPath(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gosec: %s: %v\n", p, err)
			return 1
		}
		rootPaths = append(rootPaths, root)
	}
	if len(packages) == 0 {
		fmt.Fprintln(os.Stderr, "gosec: no packages found")
		return 1
	}
	var buildTags []string
	if *tags != "" {
		buildTags = strings.Split(*tags, ",")
	}
	if err := analyzer.Process(buildTags, packages...); err != nil {
		fmt.Fprintf(os.Stderr, "gosec: %v\n", err)
		return 1
	}

	issues, metrics, errs := analyzer.Report()
	issues, _ = pathFilter.FilterIssues(issues)
	// As cmd/gosec: most severe first.
	slices.SortFunc(issues, func(a, b *issue.Issue) int {
		return -cmp.Or(cmp.Compare(a.Severity, b.Severity), cmp.Compare(a.What, b.What),
			cmp.Compare(a.File, b.File), cmp.Compare(lineOf(a.Line), lineOf(b.Line)))
	})
	open := 0
	for _, i := range issues {
		if len(i.Suppressions) == 0 {
			open++
		}
	}
	metrics.NumFound = open

	info := gosec.NewReportInfo(issues, metrics, errs).WithVersion(version())
	if err := report.CreateReport(os.Stdout, *format, false, rootPaths, info); err != nil {
		fmt.Fprintf(os.Stderr, "gosec: report: %v\n", err)
		return 1
	}
	if open > 0 || len(errs) > 0 {
		return 1
	}
	return 0
}

func splitIDs(s string) []string {
	var ids []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

func lineOf(s string) int {
	n, _ := strconv.Atoi(strings.Split(s, "-")[0])
	return n
}

// version is the gosec module version this driver was built with (from ../go.mod).
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/securego/gosec/v2" {
				return d.Version
			}
		}
	}
	return "unknown"
}
