// Player arguments rls3-bench passes (besides ML-Agents' own --mlagents-port).
using System;
using System.Globalization;

namespace Rls3
{
    public static class CommandLine
    {
        /// <summary>The camera sensor's width and height (rls3_bench.backends.unity.IMAGE_SIZE_ARG).</summary>
        public const string ImageSizeFlag = "--rls3-image-size";
        /// <summary>In the Editor (no arguments): the same, from the environment.</summary>
        public const string ImageSizeVariable = "RLS3_IMAGE_SIZE";
        public const int MinImageSize = 16, MaxImageSize = 2048;

        public static int ImageSize(int fallback)
        {
            var size = fallback;
            var args = Environment.GetCommandLineArgs();
            for (var i = 0; i + 1 < args.Length; i++)
            {
                int v;
                if (args[i] == ImageSizeFlag && TryParse(args[i + 1], out v))
                {
                    size = v;  // the last one wins, as with any argument parser
                }
            }
            int fromEnv;
            if (size == fallback && TryParse(Environment.GetEnvironmentVariable(ImageSizeVariable), out fromEnv))
            {
                size = fromEnv;
            }
            return size;
        }

        static bool TryParse(string text, out int value)
        {
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value)
                   && value >= MinImageSize && value <= MaxImageSize;
        }
    }
}
