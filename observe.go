package fastimagecache

import (
	"context"
	"time"
)

// An Op names an operation a Cache reports to its Observer.
type Op string

// The operations an Observer sees. Put and Get are the calls of those names (Fetch reports
// a Put); the others run inside them and nest in their context: Decode is the decode at Put
// that proves an input sound, Render decodes, resizes and encodes one rendition (at a Get's
// miss, or eagerly at Put), and Store writes an original or a rendition.
const (
	OpPut    Op = "put"
	OpGet    Op = "get"
	OpDecode Op = "decode"
	OpRender Op = "render"
	OpStore  Op = "store"
)

// Tiers where a Get can find its rendition, as Outcome.Tier names them.
const (
	TierMemory = "memory" // the in-process memory tier
	TierDisk   = "disk"   // this node's disk
	TierBucket = "bucket" // the shared bucket (WithBucket)
)

// An Outcome is how an operation ended, as an Observer's end function receives it.
type Outcome struct {
	// Err is the operation's error; nil on success.
	Err error
	// Reason is "" on success, or the failure's stable reason code, the same as the keys of
	// Stats.Rejections: "too_large", "unsupported_format", "type_mismatch", "dimensions",
	// "corrupt", "not_found", "invalid_spec", "busy", "closed", "forbidden_url", "storage",
	// "deadline", "canceled" or "internal".
	Reason string
	// Format is the format of the image read: the input's for Put and Decode, the original's
	// for Render and Get. It is "" when the failure came before the format was known.
	Format Format
	// Output is the format of the rendition made or served, for Render and Get.
	Output Format
	// Tier is where a successful Get found its rendition (TierMemory, TierDisk, TierBucket),
	// or "" when it was rendered.
	Tier string
	// Duration is the operation's wall time.
	Duration time.Duration
}

// An Observer receives the Cache's operations, to count them and time them (metrics) or to
// wrap them in spans (tracing). Begin is called as each operation starts, with the context
// it runs under; the operation then runs under the context Begin returns, so operations
// started inside it (a Put's Decode and Store, a Get's Render) are begun with that context
// and nest. end is called exactly once, with the Outcome, when the operation ends; an end
// may run on another goroutine than its Begin (a Render shared by several Gets ends after
// the Get that started it may have stopped waiting).
//
// Begin and end must be safe for concurrent use, must not block, and must not retain the
// Outcome's Err beyond the call. Packages metrics and tracing in this module implement it
// for Prometheus and OpenTelemetry.
type Observer interface {
	Begin(ctx context.Context, op Op) (context.Context, func(Outcome))
}

// WithObserver reports every Put, Get, Decode, Render and Store to o (see Observer). A nil
// Observer, the default, reports nothing and costs nothing. Several observers can be
// combined with MultiObserver.
func WithObserver(o Observer) Option {
	return optionFunc(func(c *config) { c.observer = o })
}

// MultiObserver returns an Observer that reports to each of obs in turn: each Begin gets the
// context the one before it returned, and the ends run in reverse order.
func MultiObserver(obs ...Observer) Observer {
	var out multiObserver
	for _, o := range obs {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

type multiObserver []Observer

func (m multiObserver) Begin(ctx context.Context, op Op) (context.Context, func(Outcome)) {
	ends := make([]func(Outcome), len(m))
	for i, o := range m {
		ctx, ends[i] = o.Begin(ctx, op)
	}
	return ctx, func(out Outcome) {
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i](out)
		}
	}
}

// observation is one operation in progress: its start and the Observer's end function.
// Its zero value (no Observer) does nothing.
type observation struct {
	end   func(Outcome)
	start time.Time
}

// begin starts reporting op to the Cache's Observer, if it has one, and returns the context
// the operation runs under.
func (c *Cache) begin(ctx context.Context, op Op) (context.Context, observation) {
	if c.cfg.observer == nil {
		return ctx, observation{}
	}
	ctx, end := c.cfg.observer.Begin(ctx, op)
	return ctx, observation{end: end, start: time.Now()}
}

// done ends the observation with err and the details in o (Format, Output, Tier).
func (ob observation) done(err error, o Outcome) {
	if ob.end == nil {
		return
	}
	o.Err = err
	if err != nil {
		o.Reason = reasonOf(err)
		o.Tier = ""
	}
	o.Duration = time.Since(ob.start)
	ob.end(o)
}
