import { useAppStore } from '../store';
import type { HideableControl } from '../url';

/** Whether a control is shown: teacher mode (?hide=…) can take any of them out of the page. */
export function useShown(control: HideableControl): boolean {
  return useAppStore((s) => !s.hidden.includes(control));
}
