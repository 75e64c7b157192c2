package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/recurhq/recur/activities"
	"github.com/recurhq/recur/workflows"
)

// scheduleCmd creates or updates the nightly schedule of a data source, or
// pauses, unpauses, triggers or deletes it.
func scheduleCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("schedule", stderr)
	c := commonFlags(fs, getenv)
	cron := fs.String("cron", "0 2 * * *", "when the sync runs, as a cron expression")
	tz := fs.String("timezone", "UTC", "the cron expression's time zone, an IANA name such as Europe/Berlin")
	pause := fs.Bool("pause", false, "pause the schedule")
	unpause := fs.Bool("unpause", false, "unpause the schedule")
	trigger := fs.Bool("trigger", false, "run the scheduled sync now")
	del := fs.Bool("delete", false, "delete the schedule (running syncs go on)")
	if err := parse(fs, args); err != nil {
		return err
	}
	n := 0
	for _, b := range []bool{*pause, *unpause, *trigger, *del} {
		if b {
			n++
		}
	}
	if n > 1 {
		return usageError{"give at most one of --pause, --unpause, --trigger and --delete"}
	}
	ds, tc, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	id := workflows.ScheduleID(ds)
	h := tc.ScheduleClient().GetHandle(ctx, id)
	notFound := func(err error) error {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return fmt.Errorf("there is no schedule %s: create it with `starter schedule --cron \"0 2 * * *\"`", id)
		}
		return err
	}
	switch {
	case *pause:
		if err := h.Pause(ctx, client.SchedulePauseOptions{Note: "paused with starter schedule --pause"}); err != nil {
			return notFound(err)
		}
		fmt.Fprintf(stdout, "Paused %s.\n", id)
	case *unpause:
		if err := h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "unpaused with starter schedule --unpause"}); err != nil {
			return notFound(err)
		}
		fmt.Fprintf(stdout, "Unpaused %s.\n", id)
	case *trigger:
		if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
			return notFound(err)
		}
		fmt.Fprintf(stdout, "Triggered %s: the sync %s starts now (unless one is running: overlapping runs are skipped).\n%s\n",
			id, workflows.SyncID(ds), c.link(workflows.SyncID(ds), ""))
	case *del:
		if err := h.Delete(ctx); err != nil {
			return notFound(err)
		}
		fmt.Fprintf(stdout, "Deleted %s.\n", id)
	default:
		if err := activities.EnsureSchedule(ctx, tc, activities.ScheduleSpec{DataSource: ds, Cron: *cron, TimeZone: *tz,
			TaskQueue: c.taskQueue, SearchAttributes: hasSearchAttributes(ctx, tc, c.namespace)}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Schedule %s runs a sync of %s at %q (%s); overlapping runs are skipped, a missed run is caught up within a day.\n%s/namespaces/%s/schedules/%s\n",
			id, ds, *cron, *tz, c.uiURL, c.namespace, id)
	}
	return nil
}

// statusCmd shows the schedule and the last syncs with their summaries.
func statusCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("status", stderr)
	c := commonFlags(fs, getenv)
	last := fs.Int("last", 5, "how many of the last syncs to show")
	if err := parse(fs, args); err != nil {
		return err
	}
	ds, tc, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()

	id := workflows.ScheduleID(ds)
	desc, err := tc.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		fmt.Fprintf(stdout, "Schedule: none (create one with `starter schedule --cron \"0 2 * * *\"`)\n")
	case err != nil:
		return err
	default:
		state := "active"
		if desc.Schedule.State.Paused {
			state = "paused: " + desc.Schedule.State.Note
		}
		fmt.Fprintf(stdout, "Schedule %s (%s): %v %s\n", id, state, desc.Schedule.Spec.CronExpressions, desc.Schedule.Spec.TimeZoneName)
		fmt.Fprintf(stdout, "  runs: %d, skipped because a sync was still running: %d, missed catch-up window: %d\n",
			desc.Info.NumActions, desc.Info.NumActionsSkippedOverlap, desc.Info.NumActionsMissedCatchupWindow)
		if len(desc.Info.NextActionTimes) > 0 {
			fmt.Fprintf(stdout, "  next run: %s\n", desc.Info.NextActionTimes[0].Format(time.RFC3339))
		}
	}

	fmt.Fprintf(stdout, "Last syncs of %s:\n", ds)
	resp, err := tc.ListWorkflow(ctx, workflowsRequest(c.namespace, workflows.SyncID(ds), *last))
	if err != nil {
		return fmt.Errorf("cannot list the syncs: %w", err)
	}
	if len(resp.GetExecutions()) == 0 {
		fmt.Fprintln(stdout, "  none yet: `starter sync --wait` runs one")
	}
	shown := 0
	for _, e := range resp.GetExecutions() {
		// Runs continued as new show as one sync: only its last run ends.
		if e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
			continue
		}
		if shown++; shown > *last {
			break
		}
		fmt.Fprintf(stdout, "  %s  %-10s  %s\n", e.GetStartTime().AsTime().Format(time.RFC3339), e.GetStatus(), c.link(e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()))
		if e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			continue
		}
		var sum workflows.SyncSummary
		if err := tc.GetWorkflow(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()).Get(ctx, &sum); err == nil {
			line, _ := json.Marshal(map[string]any{"outcome": sum.Outcome, "customers": sum.Customers, "customers_failed": sum.CustomersFailed,
				"customers_unchanged": sum.CustomersUnchanged, "records_sent": sum.RecordsSent, "records_failed": sum.RecordsFailed,
				"conflicts": sum.Conflicts, "imports": sum.Imports})
			fmt.Fprintf(stdout, "    %s\n", line)
		}
	}
	return nil
}

// workflowsRequest lists the runs of a workflow id, newest first. A sync
// continues as new between batches, so its runs outnumber the syncs: the
// page is large enough for the last syncs' runs.
func workflowsRequest(namespace, workflowID string, syncs int) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: namespace,
		PageSize:  int32(max(syncs, 1) * 50),
		Query:     fmt.Sprintf("WorkflowId = %q", workflowID),
	}
}
