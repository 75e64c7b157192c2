package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/recurhq/recur/workflows"
)

// ScheduleSpec is the nightly sync of one data source: the Temporal
// Schedule nightly/<data source>, which starts SyncWorkflow with id
// sync/<data source>.
type ScheduleSpec struct {
	DataSource string
	Cron       string
	TimeZone   string
	TaskQueue  string
	// SearchAttributes is true when the namespace has Recur's; the started
	// syncs then carry the data source.
	SearchAttributes bool
}

// catchupWindow is how late a missed run still runs (a worker or cluster
// down at 2 a.m.): one day, so that a missed night is caught up, but never
// two syncs for one.
const catchupWindow = 24 * time.Hour

// EnsureSchedule creates the nightly schedule, or updates its cron, time
// zone and action when it exists. Overlapping runs are skipped: a sync
// still running when the next one is due lets it be, and the schedule's
// description in the UI counts the skipped runs.
func EnsureSchedule(ctx context.Context, c client.Client, spec ScheduleSpec) error {
	if spec.DataSource == "" {
		return errors.New("the schedule needs a data source: set CHARTMOGUL_DATA_SOURCE or --data-source")
	}
	if spec.TimeZone == "" {
		spec.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(spec.TimeZone); err != nil {
		return fmt.Errorf("time zone %q is not one this machine knows (an IANA name such as Europe/Berlin): %w", spec.TimeZone, err)
	}
	id := workflows.ScheduleID(spec.DataSource)
	action := &client.ScheduleWorkflowAction{
		ID:            workflows.SyncID(spec.DataSource),
		Workflow:      workflows.SyncWorkflowName,
		Args:          []any{workflows.SyncInput{DataSource: spec.DataSource}},
		TaskQueue:     spec.TaskQueue,
		StaticSummary: "Nightly sync of ChartMogul data source " + spec.DataSource,
	}
	if spec.SearchAttributes {
		action.TypedSearchAttributes = temporal.NewSearchAttributes(workflows.DataSourceAttr.ValueSet(spec.DataSource))
	}
	calendar := client.ScheduleSpec{CronExpressions: []string{spec.Cron}, TimeZoneName: spec.TimeZone}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: id, Spec: calendar, Action: action,
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: catchupWindow,
		Note:          "Created by Recur. Overlapping runs are skipped: a sync still running when the next is due finishes first.",
	})
	if err == nil {
		return nil
	}
	var exists *serviceerror.AlreadyExists
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) && !errors.As(err, &exists) {
		return fmt.Errorf("cannot create the schedule %s (is %q a valid cron expression, such as \"0 2 * * *\"?): %w", id, spec.Cron, err)
	}
	h := c.ScheduleClient().GetHandle(ctx, id)
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		s.Spec = &calendar
		s.Action = action
		if s.Policy == nil {
			s.Policy = &client.SchedulePolicies{}
		}
		s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
		s.Policy.CatchupWindow = catchupWindow
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		return fmt.Errorf("cannot update the schedule %s (is %q a valid cron expression?): %w", id, spec.Cron, err)
	}
	return nil
}
