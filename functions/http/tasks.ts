/** HTTP: tasks. */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { TASK_STATUSES, taskCreate, taskPatch, taskView } from '#domain/tasks/task.ts';
import { createTask, deleteTask, getTask, listTasks, updateTask } from '#domain/tasks/tasks.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    assigneeId: z.optional(f.id),
    status: z.optional(z.enum(TASK_STATUSES)),
    dueBefore: z.optional(f.timestamp),
  }),
);

export const handler = httpFunction({
  'POST /v1/tasks': operation({ body: taskCreate, creates: '/v1/tasks', response: taskView, run: ({ ctx, body }) => createTask(ctx, body) }),
  'GET /v1/tasks': operation({ query: listQuery, response: z.lazy(() => f.pageOf(taskView)), run: ({ ctx, query, page }) => listTasks(ctx, query, page) }),
  'GET /v1/tasks/{id}': operation({ response: taskView, run: ({ ctx, params }) => getTask(ctx, params.id!) }),
  'PATCH /v1/tasks/{id}': operation({ body: taskPatch, response: taskView, run: ({ ctx, params, body, ifMatch }) => updateTask(ctx, params.id!, body, ifMatch) }),
  'DELETE /v1/tasks/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteTask(ctx, params.id!, ifMatch) }),
});
