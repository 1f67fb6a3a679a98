import { useEffect, useId, useState } from 'react';

interface NumberFieldProps {
  label: string;
  value: number | undefined;
  /** Shown when the value is undefined (the preset's default). */
  placeholder?: string;
  min: number;
  max: number;
  step?: number | 'any';
  integer?: boolean;
  disabled?: boolean;
  testId?: string;
  hint?: string;
  /** Called with a valid number, or undefined when the field is cleared and `optional`. */
  onChange(value: number | undefined): void;
  optional?: boolean;
  /** Told whether the text is currently usable, so the page can refuse to start with a bad field. */
  onValidity?(valid: boolean): void;
}

/** A number input that keeps what the user typed (even while it is not yet a valid number) and only
 *  reports valid values; an invalid entry is marked with aria-invalid and a message. */
export function NumberField({ label, value, placeholder, min, max, step, integer, disabled, testId, hint, onChange, optional, onValidity }: NumberFieldProps) {
  const id = useId();
  const [text, setText] = useState(value === undefined ? '' : String(value));
  useEffect(() => {
    // Follow changes from elsewhere (URL, preset change) unless the text already means that value.
    setText((t) => (t.trim() !== '' && Number(t) === value ? t : value === undefined ? '' : String(value)));
  }, [value]);
  const n = Number(text);
  const empty = text.trim() === '';
  const valid = empty ? Boolean(optional) : Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n));
  useEffect(() => onValidity?.(valid), [valid, onValidity]);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode={integer ? 'numeric' : 'decimal'}
        min={min}
        max={max}
        step={step ?? (integer ? 1 : 'any')}
        value={text}
        placeholder={placeholder}
        disabled={disabled}
        aria-invalid={!valid}
        aria-describedby={`${id}-hint`}
        data-testid={testId}
        onChange={(e) => {
          const t = e.target.value;
          setText(t);
          const v = Number(t);
          if (t.trim() === '') {
            if (optional) onChange(undefined);
          } else if (Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v))) onChange(v);
        }}
      />
      <small id={`${id}-hint`} className={valid ? 'hint' : 'hint invalid'}>
        {valid ? hint : `Enter ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}${optional ? ', or leave empty for the default' : ''}.`}
      </small>
    </div>
  );
}
