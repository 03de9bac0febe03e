package fakec1

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"google.golang.org/protobuf/proto"
)

const (
	// nextPoll is short so an idle client picks up a newly queued task fast.
	nextPoll = 100 * time.Millisecond
	// nextHeartbeat is the SDK's minimum; it bounds how long CancelTask
	// takes to reach a running sync.
	nextHeartbeat = time.Second
)

type taskState struct {
	task       *v1.Task
	handedOut  bool
	cancelled  bool
	heartbeats int
	finished   *v1.BatonServiceFinishTaskRequest
	uploads    [][]byte
}

// newTaskID returns 27 random base62 characters: the shape of a ksuid, which
// the proto's validation rules require of every task id.
func newTaskID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 27)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// AddTask queues a copy of task and returns its id, assigning a fresh one if
// the id is empty. It is the general form of the Add*Task helpers, for task
// types or options they do not cover (e.g. Debug, SyncFull options).
func (s *Server) AddTask(task *v1.Task) string {
	task = proto.CloneOf(task)
	if task.GetId() == "" {
		task.SetId(newTaskID())
	}
	id := task.GetId()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tasks[id]; dup {
		s.misuse(fmt.Sprintf("fakec1: AddTask: task id %q already used", id))
		return id
	}
	s.tasks[id] = &taskState{task: task}
	s.queue = append(s.queue, id)
	s.notifyLocked()
	return id
}

// AddSyncTask queues a full sync task and returns its id.
func (s *Server) AddSyncTask() string {
	return s.AddTask(v1.Task_builder{SyncFull: v1.Task_SyncFullTask_builder{}.Build()}.Build())
}

// AddGrantTask queues a task to grant entitlement to principal and returns its id.
func (s *Server) AddGrantTask(entitlement *v2.Entitlement, principal *v2.Resource) string {
	return s.AddTask(v1.Task_builder{Grant: v1.Task_GrantTask_builder{
		Entitlement: entitlement,
		Principal:   principal,
	}.Build()}.Build())
}

// AddRevokeTask queues a task to revoke grant and returns its id.
func (s *Server) AddRevokeTask(grant *v2.Grant) string {
	return s.AddTask(v1.Task_builder{Revoke: v1.Task_RevokeTask_builder{Grant: grant}.Build()}.Build())
}

// CancelTask makes later Heartbeats for taskID answer cancelled=true, which
// aborts a running sync within one heartbeat interval (1s).
func (s *Server) CancelTask(taskID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.tasks[taskID]
	if !ok {
		s.misuse(fmt.Sprintf("fakec1: CancelTask: unknown task id %q", taskID))
		return
	}
	ts.cancelled = true
}

// Heartbeats returns how many Heartbeats arrived for taskID.
func (s *Server) Heartbeats(taskID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts, ok := s.tasks[taskID]; ok {
		return ts.heartbeats
	}
	return 0
}

// Finished returns a copy of the FinishTask request for taskID, if one arrived.
func (s *Server) Finished(taskID string) (*v1.BatonServiceFinishTaskRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.tasks[taskID]
	if !ok || ts.finished == nil {
		return nil, false
	}
	return proto.CloneOf(ts.finished), true
}

// WaitFinished blocks until FinishTask for taskID arrives or ctx ends.
func (s *Server) WaitFinished(ctx context.Context, taskID string) (*v1.BatonServiceFinishTaskRequest, error) {
	err := s.wait(ctx, func() bool {
		ts, ok := s.tasks[taskID]
		return ok && ts.finished != nil
	})
	if err != nil {
		return nil, err
	}
	fin, _ := s.Finished(taskID)
	return fin, nil
}

// Upload returns the first asset uploaded for taskID (for a full sync, the
// c1z). Only uploads whose Eof checksum matched are kept; a mismatch is
// recorded in Errors.
func (s *Server) Upload(taskID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.tasks[taskID]
	if !ok || len(ts.uploads) == 0 {
		return nil, false
	}
	return bytes.Clone(ts.uploads[0]), true
}

// Uploads returns every completed asset per task id, in upload order: the c1z
// and, when the client's temp dir held one, debug.log.
func (s *Server) Uploads() map[string][][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][][]byte{}
	for id, ts := range s.tasks {
		for _, u := range ts.uploads {
			out[id] = append(out[id], bytes.Clone(u))
		}
	}
	return out
}

// AddCreateAccountTask queues a task to create an account from info (of
// resourceType; "" lets the connector choose) and returns its id.
func (s *Server) AddCreateAccountTask(info *v2.AccountInfo, resourceType string) string {
	return s.AddTask(v1.Task_builder{CreateAccount: v1.Task_CreateAccountTask_builder{
		AccountInfo:    info,
		ResourceTypeId: resourceType,
	}.Build()}.Build())
}

// AddDeleteResourceTask queues a task to delete the resource id (parent
// may be nil) and returns its id.
func (s *Server) AddDeleteResourceTask(id, parent *v2.ResourceId) string {
	return s.AddTask(v1.Task_builder{DeleteResource: v1.Task_DeleteResourceTask_builder{
		ResourceId:       id,
		ParentResourceId: parent,
	}.Build()}.Build())
}
