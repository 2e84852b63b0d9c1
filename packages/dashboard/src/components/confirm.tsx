import { useEffect, useRef } from 'react';

export interface ConfirmRequest {
  title: string;
  body: string;
  confirm: string;
  danger?: boolean;
  run: () => Promise<unknown>;
}

/** A modal `<dialog>`: focus moves into it, Escape cancels, the safe button has focus first. */
export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest | null; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (request && !dialog.open) dialog.showModal();
    if (!request && dialog.open) dialog.close();
  }, [request]);
  return (
    <dialog ref={ref} className="confirm" aria-labelledby="confirm-title" onClose={onClose}>
      {request ? (
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            onClose();
            void request.run();
          }}
        >
          <h2 id="confirm-title">{request.title}</h2>
          <p>{request.body}</p>
          <div className="row end">
            <button type="button" autoFocus onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className={request.danger ? 'danger' : 'primary'}>
              {request.confirm}
            </button>
          </div>
        </form>
      ) : null}
    </dialog>
  );
}
